"""The gRPC layer: servicers translate protos to domain calls and back, nothing more."""
