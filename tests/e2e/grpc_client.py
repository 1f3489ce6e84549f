"""A client of jit's API written from nothing but proto/ and a token: stubs are generated
from proto/jit/v1/tickets.proto with grpcio-tools, then a ticket is created, watched,
approved and read, and the error paths are exercised. Prints one JSON object of findings.

usage: grpc_client.py PROTO_DIR ADDRESS ACCOUNT_ID WORKDIR
"""
import json
import sys
import threading
import time
import uuid

import os

import grpc_tools
from grpc_tools import protoc

proto_dir, address, account, workdir = sys.argv[1:5]
well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
rc = protoc.main(["protoc", f"-I{proto_dir}", f"-I{well_known}", f"--python_out={workdir}",
                  f"--grpc_python_out={workdir}", "jit/v1/tickets.proto"])
assert rc == 0, "protoc failed"
sys.path.insert(0, workdir)

import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from jit.v1 import tickets_pb2 as pb  # noqa: E402
from jit.v1 import tickets_pb2_grpc as rpc  # noqa: E402

channel = grpc.insecure_channel(address)
stub = rpc.TicketServiceStub(channel)
out = {}


def auth(user):
    return [("authorization", f"Bearer dev:{user}")]


def code_of(call):
    try:
        call()
        return "OK"
    except grpc.RpcError as e:
        return f"{e.code().name}: {e.details()}"


def create(user, request_id, permission_set="ReadOnly", duration=3600, justification="INC-7 debugging"):
    return stub.CreateTicket(pb.CreateTicketRequest(
        request_id=request_id,
        targets=[pb.Target(account_id=account, permission_set=permission_set)],
        duration=duration_pb2.Duration(seconds=duration),
        justification=justification,
    ), metadata=auth(user))


# Health (grpc.health.v1) and reflection (v1alpha), spoken as raw bytes: no extra packages.
health = channel.unary_unary("/grpc.health.v1.Health/Check",
                             request_serializer=lambda b: b, response_deserializer=lambda b: b)
out["health"] = health(b"").hex()  # HealthCheckResponse{status: SERVING} = 08 01
reflect = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)
answers = list(reflect(iter([b"\x3a\x00"])))  # list_services: ""
out["reflection_lists_ticket_service"] = any(b"jit.v1.TicketService" in a for a in answers)

# Create, then watch in the background while carol approves.
request_id = str(uuid.uuid4())
created = create("bob", request_id)
ticket_id = created.ticket.ticket_id
out["created"] = created.created
out["ticket_id"] = ticket_id
again = create("bob", request_id)
out["retry_same_ticket"] = again.ticket.ticket_id == ticket_id and not again.created
out["reuse_other_body"] = code_of(lambda: create("bob", request_id, duration=7200))

seen = []
# The watch's first answer comes before carol votes, so it sees the ticket change.
first_answer = threading.Event()


def watch():
    for w in stub.WatchTicket(pb.WatchTicketRequest(ticket_id=ticket_id), metadata=auth("bob")):
        t = w.ticket
        seen.append(pb.TicketStatus.Name(t.status))
        first_answer.set()
        if t.status == pb.TICKET_STATUS_ACTIVE:
            return


watcher = threading.Thread(target=watch)
watcher.start()
deadline = time.time() + 30
while time.time() < deadline:
    t = stub.GetTicket(pb.GetTicketRequest(ticket_id=ticket_id), metadata=auth("bob")).ticket
    if t.status == pb.TICKET_STATUS_PENDING_APPROVAL:
        break
    time.sleep(0.1)
first_answer.wait(30)
out["self_approval"] = code_of(lambda: stub.ApproveTicket(pb.ApproveTicketRequest(ticket_id=ticket_id), metadata=auth("bob")))
vote = stub.ApproveTicket(pb.ApproveTicketRequest(ticket_id=ticket_id, comment="ok"), metadata=auth("carol"))
out["vote_effect"] = vote.effect
watcher.join(30)
out["watched"] = seen
t = stub.GetTicket(pb.GetTicketRequest(ticket_id=ticket_id), metadata=auth("bob")).ticket
out["status"] = pb.TicketStatus.Name(t.status)
out["voters"] = [v.voter for v in t.votes]
out["expires_in"] = t.expire_time.seconds - int(time.time())
out["policy_hash"] = t.policy_hash
listed = stub.ListTickets(pb.ListTicketsRequest(requester="bob", account_id=account), metadata=auth("bob"))
out["listed"] = [x.ticket_id for x in listed.tickets]

# The error paths.
out["no_token"] = code_of(lambda: stub.GetTicket(pb.GetTicketRequest(ticket_id=ticket_id)))
out["bad_token"] = code_of(lambda: stub.GetTicket(pb.GetTicketRequest(ticket_id=ticket_id),
                                                  metadata=[("authorization", "Bearer nonsense")]))
out["bad_account"] = code_of(lambda: stub.CreateTicket(pb.CreateTicketRequest(
    request_id="x1", targets=[pb.Target(account_id="12", permission_set="ReadOnly")],
    duration=duration_pb2.Duration(seconds=60), justification="why"), metadata=auth("bob")))
out["no_duration"] = code_of(lambda: stub.CreateTicket(pb.CreateTicketRequest(
    request_id="x2", targets=[pb.Target(account_id=account, permission_set="ReadOnly")],
    justification="why"), metadata=auth("bob")))
out["unknown_ticket"] = code_of(lambda: stub.GetTicket(pb.GetTicketRequest(ticket_id="no-such-ticket"),
                                                       metadata=auth("bob")))
out["stranger_reads"] = code_of(lambda: stub.GetTicket(pb.GetTicketRequest(ticket_id=ticket_id),
                                                       metadata=auth("frank")))
out["cancel_active"] = code_of(lambda: stub.CancelTicket(pb.CancelTicketRequest(ticket_id=ticket_id), metadata=auth("bob")))
out["service_without_grant"] = code_of(lambda: stub.CreateTicket(pb.CreateTicketRequest(
    request_id="x3", requester="alice", targets=[pb.Target(account_id=account, permission_set="ReadOnly")],
    duration=duration_pb2.Duration(seconds=60), justification="why"), metadata=auth("bob")))
done = stub.RelinquishTicket(pb.RelinquishTicketRequest(ticket_id=ticket_id, reason="fixed"), metadata=auth("bob")).ticket
out["relinquished"] = pb.TicketStatus.Name(done.status)
print(json.dumps(out))
