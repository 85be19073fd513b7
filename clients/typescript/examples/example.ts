// Calls a live Memoria server through the generated TypeScript code and checks what it
// gets back: the seed conversation, window memory, a streamed history, an idempotent bulk
// import, and typed errors. Prints one line per check; exits 1 on the first failed one.
//
//   npm run build && node dist/examples/example.js 127.0.0.1:50051
import { randomUUID } from "node:crypto";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

import {
  MemoryService,
  MemoryType,
  type ImportedMessage,
  type ImportMessagesRequest,
  type ImportMessagesResponse,
  type Message,
  ImportedMessageSchema,
  ImportMessagesRequestSchema,
  MessageSchema,
  RoleType,
  SessionService,
  errorDetails,
} from "../src/index.js";

const IMPORT_COUNT = 5000;
const IMPORT_BATCH = 500; // below the server's per-request limit (1000 by default)

type Memory = Client<typeof MemoryService>;
type Sessions = Client<typeof SessionService>;

class CheckFailed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

/** The seed's three messages; the last one carries metadata. */
function conversation(): Message[] {
  return [
    create(MessageSchema, { role: "Jane", roleType: RoleType.USER, content: "Who was Octavia Butler?" }),
    create(MessageSchema, {
      role: "HistoryBot",
      roleType: RoleType.ASSISTANT,
      content: "Octavia Estelle Butler (June 22, 1947 – February 24, 2006) was an American science fiction author.",
    }),
    create(MessageSchema, {
      role: "Jane",
      roleType: RoleType.USER,
      content: "Which books of hers were made into movies?",
      // protobuf-es maps google.protobuf.Struct to a plain JSON object.
      metadata: { foo: "bar" },
    }),
  ];
}

async function addConversation(memory: Memory, sessionId: string): Promise<string> {
  const response = await memory.addMemory({ sessionId, messages: conversation() });
  check(response.messages.length === 3, `stored ${response.messages.length} messages, want 3`);
  for (const message of response.messages) {
    check(message.uuid !== "" && message.createdAt !== undefined, `"${message.content}" came back without uuid or createdAt`);
  }
  return `session ${sessionId}, 3 messages stored`;
}

async function windowMemory(memory: Memory, sessionId: string): Promise<string> {
  const response = await memory.getMemory({ sessionId, memoryType: MemoryType.MESSAGE_WINDOW });
  const want = conversation();
  check(response.messages.length === want.length, `got ${response.messages.length} messages, want ${want.length}`);
  let sum = 0n;
  response.messages.forEach((message, i) => {
    check(
      message.content === want[i].content && message.role === want[i].role,
      `message ${i} is ${message.role}: "${message.content}", want ${want[i].role}: "${want[i].content}"`,
    );
    check(message.tokenCount > 0, `message ${i} has tokenCount ${message.tokenCount}`);
    sum += BigInt(message.tokenCount);
  });
  check(response.messages[2].metadata?.["foo"] === "bar", `metadata is ${JSON.stringify(response.messages[2].metadata)}`);
  check(response.tokenCount === sum, `tokenCount ${response.tokenCount}, want the messages' sum ${sum}`);
  const counts = response.messages.map((m) => m.tokenCount).join("+");
  return `3 messages in order, tokens ${counts} = ${response.tokenCount}, metadata foo=bar`;
}

async function streamHistory(memory: Memory, sessionId: string): Promise<string> {
  const streamed: Message[] = [];
  let responses = 0;
  for await (const response of memory.streamMessages({ sessionId, batchSize: 2 })) {
    responses++;
    streamed.push(...response.messages);
  }
  const want = conversation();
  check(streamed.length === want.length, `streamed ${streamed.length} messages, want ${want.length}`);
  streamed.forEach((message, i) => {
    check(message.content === want[i].content, `streamed message ${i} is "${message.content}"`);
    check(i === 0 || message.sequence > streamed[i - 1].sequence, `sequence ${message.sequence} after ${streamed[i - 1]?.sequence}`);
  });
  return `3 messages in order over ${responses} responses`;
}

async function* batches(sessionId: string, history: ImportedMessage[]): AsyncIterable<ImportMessagesRequest> {
  for (let start = 0; start < history.length; start += IMPORT_BATCH) {
    yield create(ImportMessagesRequestSchema, { sessionId, messages: history.slice(start, start + IMPORT_BATCH) });
  }
}

async function importTwice(memory: Memory, sessions: Sessions, sessionId: string): Promise<string> {
  const history = Array.from({ length: IMPORT_COUNT }, (_, i) =>
    create(ImportedMessageSchema, {
      uuid: randomUUID(),
      role: i % 2 === 0 ? "Jane" : "HistoryBot",
      roleType: i % 2 === 0 ? RoleType.USER : RoleType.ASSISTANT,
      content: `imported message ${i}`,
    }),
  );
  const count = BigInt(IMPORT_COUNT);
  const describe = (r: ImportMessagesResponse) =>
    `received ${r.received}, stored ${r.stored}, duplicates ${r.duplicates}`;
  const first = await memory.importMessages(batches(sessionId, history));
  check(first.received === count && first.stored === count && first.duplicates === 0n, `first import: ${describe(first)}`);
  const second = await memory.importMessages(batches(sessionId, history));
  check(second.received === count && second.stored === 0n && second.duplicates === count, `second import: ${describe(second)}`);
  const { session } = await sessions.getSession({ sessionId });
  check(session?.messageCount === count, `session holds ${session?.messageCount} messages, want ${count}`);
  return `${first.stored} stored, then ${second.stored} stored and ${second.duplicates} duplicates; session holds ${session.messageCount}`;
}

async function expectError(call: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    const error = ConnectError.from(err);
    check(error.code === code, `got ${Code[error.code]}: ${error.rawMessage}, want ${Code[code]}`);
    return error;
  }
  throw new CheckFailed(`the call succeeded, want ${Code[code]}`);
}

async function badRequest(memory: Memory): Promise<string> {
  const error = await expectError(memory.getMemory({ sessionId: "no such session!" }), Code.InvalidArgument);
  const [detail] = error.findDetails(errorDetails.BadRequestSchema);
  const violation = detail?.fieldViolations[0];
  check(violation !== undefined, `no google.rpc.BadRequest detail in ${JSON.stringify(error.details)}`);
  check(violation.field === "session_id", `violation names field "${violation.field}", want session_id`);
  return `BadRequest: ${violation.field}: ${violation.description}`;
}

async function notFound(memory: Memory, sessionId: string): Promise<string> {
  const error = await expectError(memory.getMemory({ sessionId }), Code.NotFound);
  return `NOT_FOUND: ${error.rawMessage}`;
}

async function main(): Promise<void> {
  const address = process.argv[2] ?? "127.0.0.1:50051";
  const apiKey = process.env["MEMORIA_API_KEY"];
  const bearer: Interceptor = (next) => (request) => {
    if (apiKey) request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
  const transport = createGrpcTransport({ baseUrl: `http://${address}`, interceptors: [bearer] });
  const memory = createClient(MemoryService, transport);
  const sessions = createClient(SessionService, transport);
  const sessionId = `ts-example-${randomUUID()}`;

  const checks: [string, () => Promise<string>][] = [
    ["add the seed conversation", () => addConversation(memory, sessionId)],
    ["window memory", () => windowMemory(memory, sessionId)],
    ["stream the history", () => streamHistory(memory, sessionId)],
    ["import twice", () => importTwice(memory, sessions, `${sessionId}-import`)],
    ["INVALID_ARGUMENT detail", () => badRequest(memory)],
    ["NOT_FOUND", () => notFound(memory, `${sessionId}-missing`)],
  ];
  for (const [name, run] of checks) {
    try {
      console.log(`ok   ${name.padEnd(26)} ${await run()}`);
    } catch (err) {
      console.error(`ts example: FAILED: ${name}: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    }
  }
  console.log(`ts example: all ${checks.length} checks passed against ${address}`);
}

await main();
