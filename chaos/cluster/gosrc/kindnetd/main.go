// Command kindnetd is kube-chaos's own minimal pod network for kind nodes,
// deployed under kind's usual name (DaemonSet kube-system/kindnet) because the
// upstream kindnetd source is not published as a Go module this machine can
// fetch. It does what a kind cluster needs and nothing more:
//
//   - writes a CNI config (ptp + host-local on this node's podCIDR + portmap);
//   - routes every other node's podCIDR via that node's InternalIP;
//   - masquerades pod traffic that leaves the pod network.
//
// It talks to the API server with the standard library only (in-cluster
// service-account credentials), so it builds in seconds with no dependencies.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	saDir      = "/var/run/secrets/kubernetes.io/serviceaccount"
	cniConfDir = "/etc/cni/net.d"
	cniConf    = "10-kindnet.conflist"
	resync     = 5 * time.Second
)

type address struct {
	Type    string `json:"type"`
	Address string `json:"address"`
}

type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Addresses []address `json:"addresses"`
	} `json:"status"`
}

type nodeList struct {
	Items []node `json:"items"`
}

func (n node) internalIP() string {
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
			return a.Address
		}
	}
	return ""
}

func apiClient() (*http.Client, string, string, error) {
	// kind patches CONTROL_PLANE_ENDPOINT in so we need not wait for kube-proxy
	// to program the kubernetes Service before the pod network exists.
	endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if endpoint == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, "", "", fmt.Errorf("no CONTROL_PLANE_ENDPOINT or KUBERNETES_SERVICE_HOST: not running in a pod")
		}
		endpoint = net.JoinHostPort(host, port)
	}
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, "", "", err
	}
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, "", "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	return client, "https://" + endpoint, string(bytes.TrimSpace(token)), nil
}

func listNodes(client *http.Client, base, token string) ([]node, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list nodes: HTTP %d", resp.StatusCode)
	}
	var list nodeList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func cniConfig(podCIDR string) []byte {
	conf := map[string]any{
		"cniVersion": "0.3.1",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	out, _ := json.MarshalIndent(conf, "", "  ")
	return out
}

// writeIfChanged replaces the file atomically so the kubelet never reads half a config.
func writeIfChanged(path string, content []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, bytes.TrimSpace(out))
	}
	return nil
}

// ensureMasquerade installs (idempotently: the table is flushed and rewritten)
// an nftables rule masquerading pod traffic that leaves the pod network. nft is
// used rather than iptables so the rule never depends on which iptables backend
// the node happens to use; kube-proxy runs in nftables mode for the same reason.
func ensureMasquerade(podSubnet string) error {
	script := fmt.Sprintf(`table ip kindnet {}
flush table ip kindnet
table ip kindnet {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr %[1]s ip daddr != %[1]s masquerade
	}
}
`, podSubnet)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func sync(self string, hostIP string, nodes []node) error {
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			continue
		}
		ip := n.internalIP()
		if n.Metadata.Name == self || (self == "" && ip == hostIP) {
			changed, err := writeIfChanged(filepath.Join(cniConfDir, cniConf), cniConfig(n.Spec.PodCIDR))
			if err != nil {
				return err
			}
			if changed {
				log.Printf("wrote CNI config for podCIDR %s", n.Spec.PodCIDR)
			}
			continue
		}
		if ip == "" {
			continue
		}
		if err := run("ip", "route", "replace", n.Spec.PodCIDR, "via", ip); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	self, hostIP, podSubnet := os.Getenv("NODE_NAME"), os.Getenv("HOST_IP"), os.Getenv("POD_SUBNET")
	client, base, token, err := apiClient()
	if err != nil {
		log.Fatalf("kindnetd: %v", err)
	}
	if podSubnet != "" {
		if err := ensureMasquerade(podSubnet); err != nil {
			log.Printf("masquerade: %v", err)
		}
	}
	log.Printf("kindnetd (kube-chaos) on node %q host IP %s pod subnet %s", self, hostIP, podSubnet)
	for {
		nodes, err := listNodes(client, base, token)
		if err == nil {
			err = sync(self, hostIP, nodes)
		}
		if err != nil {
			log.Printf("sync: %v", err)
		}
		time.Sleep(resync)
	}
}
