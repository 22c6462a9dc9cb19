import type { FastifyReply } from 'fastify';

/**
 * Sends text that already is the answer's JSON. Fastify writes a string with a JSON content
 * type as it is, past the route's serializer; the route's response schema still documents
 * the shape, which whoever encoded the text must keep.
 */
export function sendEncodedJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
