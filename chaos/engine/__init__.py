"""The engine: one experiment run as phases over explicit state (chaos.engine.runner,
chaos.engine.phases), the guards monitor, the in-cluster load's wiring, the `kube-chaos plan`
preview. It drives chaos.faults and chaos.load through chaos.k8s and never provisions: what a
kind cluster needs (images onto its nodes, metrics-server, the worker image) comes in as ports
on RunEnv, implemented in chaos.cluster and wired by the plugin."""
