// Issue 9, item 6: the VPN subnet is a private range, and holds every device listed.
import test from "ava";
import { refusedAt, validated, type Input } from "./support.ts";

const subnet = (value: string) => (i: Input) => (i.services.vpn = { ...i.services.vpn, subnet: value });

const NOT_PRIVATE: [string, string][] = [
  ["half of the Internet", "0.0.0.0/1"],
  ["a public /24", "8.8.8.0/24"],
  ["loopback", "127.0.0.0/8"],
  ["multicast", "224.0.0.0/24"],
  ["link-local", "169.254.0.0/16"],
  ["a range straddling a private one", "10.0.0.0/7"],
  ["CGNAT shared space", "100.64.0.0/24"],
];
for (const [what, value] of NOT_PRIVATE) {
  test(`VPN subnet: refuses ${what} (${value})`, (t) => {
    refusedAt(t, subnet(value), "services.vpn.subnet", `"${value}" is not a private network`, "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16");
  });
}

test("VPN subnet: private ranges are accepted", (t) => {
  for (const value of ["10.13.13.0/24", "172.20.0.0/16", "192.168.77.0/28"]) t.is(validated(subnet(value)).services.vpn.subnet, value);
});

test("VPN subnet: more devices than the subnet holds are refused before anything is created", (t) => {
  // A /29 holds 8 addresses: network, server and broadcast leave 5 for devices; the example lists 3.
  const edit = (i: Input) => {
    subnet("10.13.13.0/29")(i);
    i.members[1].devices.push({ name: "tablet" }, { name: "phone-2" }, { name: "desktop" });
  };
  refusedAt(t, edit, "services.vpn.subnet", '"10.13.13.0/29" has room for 5 devices besides the server, but 6 are listed', "choose a larger private subnet");
  t.is(validated((i) => {
    subnet("10.13.13.0/29")(i);
    i.members[1].devices.push({ name: "tablet" }, { name: "phone-2" });
  }).services.vpn.subnet, "10.13.13.0/29");
});
