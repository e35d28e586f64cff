"""kube-chaos: chaos experiments for Kubernetes as pytest tests."""

__version__ = "0.1.0"
