#!/usr/bin/python3
"""Renders a NoCloud network config with cloud-init's own renderers (Debian package cloud-init, 22.4).

  render.py RENDERER FILE MAC=NAME [MAC=NAME ...]
  render.py RENDERER --meta-data FILE MAC=NAME [MAC=NAME ...]

RENDERER is eni (Debian ifupdown), netplan or sysconfig (distro rhel); each gets the settings
its distro gives it (cloudinit/distros/debian.py, rhel.py). FILE is a network-config file
(version 1 or 2, with or without a top-level "network:" key), or with --meta-data a meta-data
file whose `network-interfaces` ENI text cloud-init converts (eni.convert_eni_data).

The one thing faked: this machine has no such NICs, so get_interfaces_by_mac (which cloud-init
uses to turn a v2 `match: {macaddress: M}` into the kernel's name for M) is patched to return the
MAC=NAME pairs given here, i.e. the NICs the guest is assumed to have. Nothing is run (no
`netplan generate`, no udevadm, no ifup) and nothing is renamed; files go to a temp dir.

Prints {"files": {relative path: content}, "interfaces": [{"name", "mac", "addresses",
"gateway", "dns"}]} as JSON. Exit status 0 when cloud-init accepts the input; otherwise 1 with
cloud-init's complaint. Runs with Debian's /usr/bin/python3, where cloud-init's modules live.
"""
import json
import os
import sys
import tempfile
from unittest import mock

from cloudinit import net, util
from cloudinit.distros import debian, rhel
from cloudinit.net import eni, netplan, network_state, sysconfig

# The renderer classes with their distro's settings. For netplan: postcmds (netplan generate,
# udevadm) off, feature list fixed so that it does not run `netplan info`, and the path made
# relative, as netplan.py joins it to the target with os.path.join (an absolute path would
# write to this machine's /etc/netplan).
NETPLAN = debian.Distro.renderer_configs["netplan"]
RENDERERS = {
    "eni": lambda: eni.Renderer(debian.Distro.renderer_configs["eni"]),
    "netplan": lambda: netplan.Renderer(
        dict(NETPLAN, netplan_path=NETPLAN["netplan_path"].lstrip("/"), postcmds=False,
             clean_default=False, features=[])
    ),
    "sysconfig": lambda: sysconfig.Renderer(dict(rhel.Distro.renderer_configs["sysconfig"], flavor="rhel")),
}


def load(path, meta_data):
    """The network config as NoCloud hands it over (DataSourceNoCloud.py, stages.py)."""
    with open(path) as f:
        text = f.read()
    if meta_data:
        md = util.load_yaml(text) or {}
        if "network-interfaces" not in md:
            raise ValueError("meta-data has no network-interfaces")
        return eni.convert_eni_data(md["network-interfaces"])
    cfg = util.load_yaml(text)  # None for a file that is not a YAML mapping: cloud-init ignores it
    if cfg is None:
        raise ValueError("not a YAML mapping; NoCloud would ignore it and fall back to DHCP")
    cfg = cfg.get("network", cfg)  # Init._remove_top_level_network_key
    if net.is_disabled_cfg(cfg):
        raise ValueError("network config is disabled (config: disabled)")
    return cfg


def summary(state):
    """Name, MAC, addresses, default gateway and DNS of each interface in cloud-init's state."""
    out = []
    for iface in state.iter_interfaces():
        if iface["type"] == "loopback":
            continue
        addresses, gateway, dns = [], None, list(iface.get("dns", {}).get("addresses", []))
        for subnet in iface.get("subnets", []):
            if "address" in subnet:
                addresses.append(f"{subnet['address']}/{subnet['prefix']}")
            else:
                addresses.append(subnet["type"])  # dhcp, dhcp4, dhcp6, ...
            defaults = [r["gateway"] for r in subnet.get("routes", []) if r.get("prefix") == 0]
            gateway = gateway or subnet.get("gateway") or (defaults[0] if defaults else None)
            dns += [d for d in subnet.get("dns_nameservers", []) if d not in dns]
        out.append({"name": iface["name"], "mac": iface.get("mac_address"), "addresses": addresses,
                    "gateway": gateway, "dns": dns})
    return out


def render(kind, path, meta_data):
    renderer = RENDERERS[kind]()
    try:
        cfg = load(path, meta_data)
        # Parsed as distros/__init__.py apply_network_config does (for netplan a v2 config is
        # passed through as is), and once more without the renderer for the summary.
        state = network_state.parse_net_config_data(cfg, skip_broken=False, renderer=renderer)
        plain = network_state.parse_net_config_data(cfg, skip_broken=False)
        with tempfile.TemporaryDirectory() as target:
            renderer.render_network_state(state, target=target)
            files = {}
            for root, _dirs, names in os.walk(target):
                for name in names:
                    with open(os.path.join(root, name)) as f:
                        files[os.path.relpath(os.path.join(root, name), target)] = f.read()
    except Exception as e:  # cloud-init raises plain exceptions for bad input
        print(f"cloud-init rejected the network config: {type(e).__name__}: {e}")
        return 1
    print(json.dumps({"files": dict(sorted(files.items())), "interfaces": summary(plain)}, indent=2))
    return 0


def main(args):
    meta_data = "--meta-data" in args
    args = [a for a in args if a != "--meta-data"]
    if len(args) < 2 or args[0] not in RENDERERS or not all("=" in a for a in args[2:]):
        print(__doc__)
        return 2
    # The NICs the guest is assumed to have; the kernel reports MACs in lower case.
    nics = {mac.lower(): name for mac, name in (a.split("=", 1) for a in args[2:])}
    # network_state imported get_interfaces_by_mac by name; find_interface_name_from_mac
    # looks it up in cloudinit.net. Patch both.
    with mock.patch.object(net, "get_interfaces_by_mac", return_value=nics), \
            mock.patch.object(network_state, "get_interfaces_by_mac", return_value=nics):
        return render(args[0], args[1], meta_data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
