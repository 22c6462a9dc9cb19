import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ChatParams } from '../chats/schemas.js';
import { sendEncodedJson } from '../http/encoded-json.js';
import { errorResponses } from '../http/schemas.js';
import type { RequestLimits } from '../rate-limit/limits.js';
import {
  EditMessageBody,
  Message,
  MessagePage,
  MessagePageQuery,
  MessageParams,
  SendMessageBody,
} from './schemas.js';
import type { MessageService } from './service.js';

const security = [{ bearer: [] }];
const tags = ['messages'];

export const messageRoutes: FastifyPluginAsyncTypebox<{
  messages: MessageService;
  limits: RequestLimits | undefined;
}> = async (app, { messages, limits }) => {
  app.post(
    '/chats/:chat_id/messages',
    {
      schema: {
        tags,
        security,
        summary: 'Send a message; a repeated client_message_id answers 200 with the first one',
        params: ChatParams,
        body: SendMessageBody,
        response: {
          200: Message,
          201: Message,
          ...errorResponses(400, 401, 404, 410, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      await limits?.sendMessage(request.userId, request.ip);
      const { message, created } = await messages.send(
        request.userId,
        request.params.chat_id,
        request.body,
      );
      return reply.status(created ? 201 : 200).send(message);
    },
  );

  app.get(
    '/chats/:chat_id/messages',
    {
      schema: {
        tags,
        security,
        summary: 'A page of history, oldest first within the page',
        params: ChatParams,
        querystring: MessagePageQuery,
        response: { 200: MessagePage, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const answer = await messages.listEncoded(
        request.userId,
        request.params.chat_id,
        request.query,
      );
      if ('encoded' in answer) return sendEncodedJson(reply, answer.encoded);
      return answer.page;
    },
  );

  app.get(
    '/messages/:message_id',
    {
      schema: {
        tags,
        security,
        summary: 'One message',
        params: MessageParams,
        response: { 200: Message, ...errorResponses(401, 404) },
      },
    },
    async (request) => messages.get(request.userId, request.params.message_id),
  );

  app.patch(
    '/messages/:message_id',
    {
      schema: {
        tags,
        security,
        summary: 'Edit a message (sender only)',
        params: MessageParams,
        body: EditMessageBody,
        response: { 200: Message, ...errorResponses(400, 401, 403, 404, 409, 410, 415, 422) },
      },
    },
    async (request) =>
      messages.edit(request.userId, request.params.message_id, request.body.content),
  );

  app.put(
    '/messages/:message_id/receive',
    {
      schema: {
        tags,
        security,
        summary: 'The caller has received this message and every earlier one',
        params: MessageParams,
        response: { 200: Message, ...errorResponses(401, 404) },
      },
    },
    async (request) => messages.markReceived(request.userId, request.params.message_id),
  );

  app.put(
    '/messages/:message_id/read',
    {
      schema: {
        tags,
        security,
        summary: 'The caller has read this message and every earlier one',
        params: MessageParams,
        response: { 200: Message, ...errorResponses(401, 404) },
      },
    },
    async (request) => messages.markRead(request.userId, request.params.message_id),
  );

  app.delete(
    '/messages/:message_id',
    {
      schema: {
        tags,
        security,
        summary: 'Delete a message (sender or chat initiator); it stays as a tombstone',
        params: MessageParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 410) },
      },
    },
    async (request, reply) => {
      await messages.remove(request.userId, request.params.message_id);
      return reply.status(204).send(null);
    },
  );
};
