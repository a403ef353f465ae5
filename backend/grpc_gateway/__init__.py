"""The gRPC gateway: ``gan.v1.GenerationService`` over the same services and database as the REST API."""
