"""netmiko `cisco_tp` (CiscoTpTcCeSSH) against `exsh serve --ssh` (notes/ssh-clients.md §2),
netmiko itself unchanged: prints one JSON object of what it saw.

netmiko 4 normalises "\\r\\n" to "\\n" before matching, so its default pattern (which
spells "\\r\\n") cannot match on any device (ktbyers/netmiko#2805); with 4.x the calls give
the usual workaround, expect_string with "\\n". netmiko 2.4 takes the defaults.

usage: netmiko_client.py <port> <password>
"""
import json
import re
import sys

import netmiko
from netmiko import ConnectHandler

PORT = int(sys.argv[1])
PASSWORD = sys.argv[2]
MAJOR = int(netmiko.__version__.split(".")[0])
kw = {} if MAJOR < 4 else {"expect_string": r"\n(OK|ERROR|Command not recognized\.)\n"}

out = {"version": netmiko.__version__}
conn = ConnectHandler(device_type="cisco_tp", host="127.0.0.1", port=PORT, username="admin", password=PASSWORD,
                      allow_agent=False, use_keys=False, fast_cli=False)
out["status"] = conn.send_command("xStatus SystemUnit Product", **kw)
out["set"] = conn.send_command('xConfiguration SystemUnit Name: "netmiko"', **kw)
out["get"] = conn.send_command("xConfiguration SystemUnit Name", **kw)
out["error"] = conn.send_command("xconfiguration License Smart ReservationEnable: Maybe", **kw)
out["unknown"] = conn.send_command("foo bar", **kw)
out["enable"] = conn.send_command("xConfiguration License Smart ReservationEnable: On", **kw)
out["request"] = conn.send_command("xCommand License Smart Reservation Request", **kw)
m = re.search(r"CB-\S+", out["request"])
out["code"] = m.group(0) if m else None
conn.disconnect()
print(json.dumps(out))
