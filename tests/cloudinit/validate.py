#!/usr/bin/python3
"""Checks NoCloud files with cloud-init's own code (Debian package cloud-init, 22.4).

  validate.py user-data FILE       `cloud-init schema --config-file FILE`, then prints
                                   {"keys": [top-level keys], "users": [...]} as JSON
  validate.py network-config FILE  cloud-init's network parser (network_state), then prints
                                   {"interfaces": [...], "dns": [...]} as JSON

Exit status 0 when cloud-init accepts the file; otherwise 1 with cloud-init's complaint.
Runs with Debian's /usr/bin/python3, where cloud-init's modules live.
"""
import json
import subprocess
import sys

import yaml


def user_data(path):
    checked = subprocess.run(["cloud-init", "schema", "--config-file", path], capture_output=True, text=True)
    if checked.returncode != 0:
        print(checked.stdout + checked.stderr)
        return 1
    with open(path) as f:
        doc = yaml.safe_load(f)
    print(json.dumps({"keys": sorted(doc.keys()), "users": doc.get("users", [])}))
    return 0


def network_config(path):
    from cloudinit.net import network_state

    with open(path) as f:
        doc = yaml.safe_load(f)
    try:
        state = network_state.parse_net_config_data(doc, skip_broken=False)
    except Exception as e:  # cloud-init raises plain exceptions for bad input
        print(f"cloud-init rejected the network config: {e}")
        return 1
    print(json.dumps({"interfaces": list(state.iter_interfaces()), "dns": state.dns_nameservers}, default=str))
    return 0


if __name__ == "__main__":
    kinds = {"user-data": user_data, "network-config": network_config}
    if len(sys.argv) != 3 or sys.argv[1] not in kinds:
        print(__doc__)
        sys.exit(2)
    sys.exit(kinds[sys.argv[1]](sys.argv[2]))
