"""zipcode-recognizer's recognition pipeline and (later) its gRPC service."""
