// The API client, generated from proto/ (src/gen, by protoc-gen-es), over gRPC-Web to the
// page's own origin (jit-api's HTTP port), with the session's bearer token.

import { createClient, ConnectError, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { TicketService } from "./gen/jit/v1/tickets_pb";
import { BadRequestSchema } from "./gen/google/rpc/error_details_pb";
import { currentSession } from "./auth";

const bearer: Interceptor = (next) => async (req) => {
  const s = currentSession();
  if (s) req.header.set("authorization", `Bearer ${s.token}`);
  return next(req);
};

const transport = createGrpcWebTransport({
  baseUrl: typeof location === "undefined" ? "http://localhost" : location.origin,
  interceptors: [bearer],
  useBinaryFormat: true,
});

export const api = createClient(TicketService, transport);

/** A field's problem per field path, from an INVALID_ARGUMENT's BadRequest details. */
export function fieldErrors(e: unknown): Record<string, string> {
  const err = ConnectError.from(e);
  const out: Record<string, string> = {};
  for (const d of err.findDetails(BadRequestSchema)) {
    for (const v of d.fieldViolations) out[v.field] = v.description;
  }
  return out;
}

/** The words of an error for a flash message. */
export function messageOf(e: unknown): string {
  return ConnectError.from(e).rawMessage;
}
