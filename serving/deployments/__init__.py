"""Ray Serve deployments other than the ingress."""
