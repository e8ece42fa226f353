"""Generated from proto/zipcode/v1/zipcode.proto by tools/gen_proto.py. Do not edit."""
