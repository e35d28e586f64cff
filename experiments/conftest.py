# The HA experiments need the 3-control-plane cluster (`kube-chaos cluster up --name kc-ha
# --control-planes 3 --port-offset 1000`); `pytest experiments/` (make experiments) runs on the
# 1-control-plane cluster, so it skips their directory. Name it to run them:
#   pytest -m chaos experiments/ha --chaos-kubeconfig ~/.cache/kube-chaos/clusters/kc-ha/kubeconfig
collect_ignore = ["ha"]
