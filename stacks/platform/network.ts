// The edge network joins the proxy to each service's web front. It has a fixed
// subnet so that the VPN server has a known address: the proxy lets admin paths
// through only when a request comes from it, i.e. from a VPN peer.
export const EDGE_NETWORK = {
  name: "bastide-edge",
  subnet: "172.30.80.0/24",
  gateway: "172.30.80.1",
} as const;

export const EDGE_ADDRESSES = {
  proxy: "172.30.80.2",
  vpn: "172.30.80.3",
} as const;
