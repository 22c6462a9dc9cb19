import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../http/schemas.js';
import {
  AddParticipantsBody,
  Chat,
  ChatListQuery,
  ChatPage,
  ChatParams,
  CreateChatBody,
  ParticipantParams,
  RenameChatBody,
} from './schemas.js';
import type { ChatService } from './service.js';

const security = [{ bearer: [] }];
const tags = ['chats'];

export const chatRoutes: FastifyPluginAsyncTypebox<{ chats: ChatService }> = async (
  app,
  { chats },
) => {
  app.post(
    '/chats',
    {
      schema: {
        tags,
        security,
        summary: 'Create a chat; the caller is its initiator and a participant',
        body: CreateChatBody,
        response: { 201: Chat, ...errorResponses(400, 401, 415, 422) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await chats.create(request.userId, request.body)),
  );

  app.get(
    '/chats',
    {
      schema: {
        tags,
        security,
        summary: "The caller's chats, most recently active first",
        querystring: ChatListQuery,
        response: { 200: ChatPage, ...errorResponses(400, 401) },
      },
    },
    async (request) => chats.list(request.userId, request.query),
  );

  app.get(
    '/chats/:chat_id',
    {
      schema: {
        tags,
        security,
        summary: 'One chat (also when deleted)',
        params: ChatParams,
        response: { 200: Chat, ...errorResponses(401, 404) },
      },
    },
    async (request) => chats.get(request.userId, request.params.chat_id),
  );

  app.patch(
    '/chats/:chat_id',
    {
      schema: {
        tags,
        security,
        summary: 'Rename a chat (initiator only)',
        params: ChatParams,
        body: RenameChatBody,
        response: { 200: Chat, ...errorResponses(400, 401, 403, 404, 410, 415, 422) },
      },
    },
    async (request) => chats.rename(request.userId, request.params.chat_id, request.body.name),
  );

  app.post(
    '/chats/:chat_id/participants',
    {
      schema: {
        tags,
        security,
        summary: 'Add participants (initiator only)',
        params: ChatParams,
        body: AddParticipantsBody,
        response: { 200: Chat, ...errorResponses(400, 401, 403, 404, 410, 415, 422) },
      },
    },
    async (request) =>
      chats.addParticipants(request.userId, request.params.chat_id, request.body.user_ids),
  );

  app.delete(
    '/chats/:chat_id/participants/:user_id',
    {
      schema: {
        tags,
        security,
        summary: 'Remove a participant: the initiator removes anyone, anyone removes themself',
        params: ParticipantParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404, 410) },
      },
    },
    async (request, reply) => {
      await chats.removeParticipant(request.userId, request.params.chat_id, request.params.user_id);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/chats/:chat_id',
    {
      schema: {
        tags,
        security,
        summary: 'Delete a chat (initiator only); history stays readable',
        params: ChatParams,
        response: { 204: Type.Null(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await chats.remove(request.userId, request.params.chat_id);
      return reply.status(204).send(null);
    },
  );
};
