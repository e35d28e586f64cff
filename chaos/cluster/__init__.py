"""Cluster provisioning: Docker engine bootstrap, offline kind node image, kind clusters."""
