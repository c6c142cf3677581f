"""paramiko against `exsh serve --ssh` (notes/ssh-clients.md §5): prints one JSON object
of what it saw; test/serve/ssh-python.test.ts asserts on it.

usage: paramiko_client.py <port> <password>
"""
import json
import sys
import threading
import time

import paramiko

PORT = int(sys.argv[1])
PASSWORD = sys.argv[2]
out = {}


def client(interactive=False):
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    if not interactive:
        c.connect("127.0.0.1", PORT, "admin", PASSWORD, look_for_keys=False, allow_agent=False, timeout=20)
        return c
    # keyboard-interactive only, recording the prompts the server asks
    t = paramiko.Transport(("127.0.0.1", PORT))
    t.start_client(timeout=20)
    prompts = []

    def handler(title, instructions, fields):
        prompts.append([[p, e] for p, e in fields])
        return [PASSWORD for _ in fields]

    t.auth_interactive("admin", handler)
    out["interactive_prompts"] = prompts
    out["interactive_ok"] = t.is_authenticated()
    t.close()
    return None


def read_until(chan, marker, timeout=15):
    data = b""
    end = time.time() + timeout
    while marker not in data:
        if time.time() > end:
            raise RuntimeError("timed out waiting for %r, got %r" % (marker, data))
        if chan.recv_ready():
            data += chan.recv(65536)
        else:
            time.sleep(0.005)
    return data


c = client()

# invoke_shell: a pty (vt100 80x24), as scripts use it
chan = c.invoke_shell()
out["banner"] = read_until(chan, b"OK\r\n\r\n").decode()
chan.send("xStatus SystemUnit Product\n")
out["lf"] = read_until(chan, b"\r\nOK\r\n").decode()
chan.send("xStatus SystemUnit Product\r")
out["cr"] = read_until(chan, b"\r\nOK\r\n").decode()
# a line wider than the 80 columns of the pty runs as one request
chan.send("xStatus SystemUnit Product" + " " * 170 + '| resultId="%s"\n' % ("r" * 20))
out["long"] = read_until(chan, b"\r\nOK\r\n").decode()
chan.send("bye\n")
end = time.time() + 10
while not chan.exit_status_ready() and time.time() < end:
    time.sleep(0.01)
out["shell_exit"] = chan.recv_exit_status()

# a shell without a pty: bytes unchanged
chan = c.get_transport().open_session()
chan.invoke_shell()
read_until(chan, b"OK\n\n")
chan.send("xStatus SystemUnit Product\n")
out["nopty"] = read_until(chan, b"\nOK\n").decode()
chan.send("bye\n")
out["nopty_exit"] = chan.recv_exit_status()

# exec_command
_, stdout, _ = c.exec_command("xStatus SystemUnit Product")
out["exec"] = stdout.read().decode()
out["exec_exit"] = stdout.channel.recv_exit_status()
_, stdout, _ = c.exec_command("xconfiguration License Smart ReservationEnable: Maybe")
out["exec_bad_tail"] = stdout.read().decode().splitlines()[-1]
out["exec_bad_exit"] = stdout.channel.recv_exit_status()
stdin, stdout, _ = c.exec_command("tsh")
stdin.write("xStatus SystemUnit Product\nbye\n")
stdin.flush()
out["exec_tsh"] = stdout.read().decode()
out["exec_tsh_exit"] = stdout.channel.recv_exit_status()
stdin, stdout, _ = c.exec_command("tsh")
stdin.write("xConfiguration SystemUnit Name\n")
stdin.channel.shutdown_write()
out["exec_eof_exit"] = stdout.channel.recv_exit_status()
_, stdout, _ = c.exec_command("xStatus SystemUnit Product", get_pty=True)
out["exec_pty"] = stdout.read().decode()

# three exec channels at once on one connection
results = [None, None, None]


def run(i):
    _, so, _ = c.exec_command('xConfiguration SystemUnit Name: "par-%d"' % i)
    results[i] = [so.read().decode(), so.channel.recv_exit_status()]


threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
out["parallel"] = results
c.close()

client(interactive=True)
print(json.dumps(out))
