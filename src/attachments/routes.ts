import multipart from '@fastify/multipart';
import type {
  FastifyPluginAsyncTypebox,
  TypeBoxTypeProvider,
} from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ChatParams } from '../chats/schemas.js';
import { AppError, ValidationError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import { createValidatorCompiler } from '../http/validation.js';
import type { RequestLimits } from '../rate-limit/limits.js';
import {
  Attachment,
  AttachmentContentQuery,
  AttachmentListQuery,
  AttachmentPage,
  AttachmentParams,
} from './schemas.js';
import { type AttachmentService, DOWNLOAD_CSP, RangeNotSatisfiableHttpError } from './service.js';

const security = [{ bearer: [] }];
const tags = ['attachments'];

/** The authenticated attachment endpoints: upload, listing, metadata with a fresh link. */
export const attachmentRoutes: FastifyPluginAsyncTypebox<{
  attachments: AttachmentService;
  maxUploadBytes: number;
  limits: RequestLimits | undefined;
}> = async (app, { attachments, maxUploadBytes, limits }) => {
  const validators = createValidatorCompiler();
  // Multipart parsing only in this scope, so no other route accepts multipart bodies.
  await app.register(async (scope) => {
    const uploads = scope.withTypeProvider<TypeBoxTypeProvider>();
    await uploads.register(multipart, {
      limits: {
        // Above the limit, so that storage (which counts exactly) is what says 413, at limit + 1
        // bytes, and stops reading there (the parser's pause). At its own limit the parser
        // would instead cut the file silently and then read and discard the rest of the body.
        fileSize: maxUploadBytes + 1024 * 1024,
        files: 1,
        fields: 10,
        fieldSize: 1024,
        parts: 20,
        headerPairs: 20,
      },
    });

    uploads.post(
      '/chats/:chat_id/attachments',
      {
        schema: {
          tags,
          security,
          summary: 'Upload a file to a chat (multipart/form-data with one part "file")',
          description:
            'The type is detected from the bytes; the returned attachment can then be sent ' +
            'with a message by its uploader. Uploads never sent are removed after a grace ' +
            'period. Over MAX_UPLOAD_BYTES is 413; exactly the limit is accepted.',
          consumes: ['multipart/form-data'],
          // For the OpenAPI document only: see validatorCompiler below.
          body: {
            content: {
              'multipart/form-data': {
                schema: Type.Object({ file: Type.String({ format: 'binary' }) }),
              },
            },
          },
          params: ChatParams,
          response: {
            201: Attachment,
            ...errorResponses(400, 401, 404, 410, 413, 415, 422, 429),
          },
        },
        // The multipart parser leaves the body undefined (the handler reads the stream), so the
        // body schema above is documentation; params are validated as everywhere else.
        validatorCompiler: (route) => (route.httpPart === 'body' ? () => true : validators(route)),
      },
      async (request, reply) => {
        try {
          const { chat_id: chatId } = request.params;
          await limits?.upload(request.userId, request.ip);
          await attachments.assertCanUpload(request.userId, chatId);
          const attachment = await attachments.upload(
            request.userId,
            chatId,
            await filePart(request),
          );
          return reply.status(201).send(attachment);
        } catch (error) {
          discardRestOfBody(request);
          throw uploadError(request, error);
        }
      },
    );
  });

  app.get(
    '/chats/:chat_id/attachments',
    {
      schema: {
        tags,
        security,
        summary: "Attachments of the chat's messages: newest page first, oldest first within it",
        description:
          '`before=attachment_id` gives the page just older; `content_type` filters by kind.',
        params: ChatParams,
        querystring: AttachmentListQuery,
        response: { 200: AttachmentPage, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => attachments.list(request.userId, request.params.chat_id, request.query),
  );

  app.get(
    '/attachments/:attachment_id',
    {
      schema: {
        tags,
        security,
        summary: 'One attachment with a fresh signed url (unsent uploads: uploader only)',
        params: AttachmentParams,
        response: { 200: Attachment, ...errorResponses(401, 404) },
      },
    },
    async (request) => attachments.get(request.userId, request.params.attachment_id),
  );
};

/** The signed link: no Authorization (it must work in `<img src>`), the signature is the proof. */
export const attachmentContentRoutes: FastifyPluginAsyncTypebox<{
  attachments: AttachmentService;
}> = async (app, { attachments }) => {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/attachments/:attachment_id/content',
    schema: {
      tags,
      summary: 'The bytes of an attachment, by signed expiring link; supports Range',
      description:
        'Served with the detected Content-Type, Content-Disposition (inline only for images, ' +
        'audio and video that browsers cannot execute), nosniff and a sandboxing CSP. ' +
        'A tampered or expired link is 403.',
      params: AttachmentParams,
      querystring: AttachmentContentQuery,
      response: errorResponses(403, 404, 416),
    },
    handler: async (request, reply) => {
      setLinkSafetyHeaders(reply);
      try {
        const download = await attachments.download(
          request.params.attachment_id,
          request.query,
          request.headers.range,
          { head: request.method === 'HEAD' },
        );
        // A stream (or nothing, for HEAD) rather than a schema-shaped object.
        const raw = reply as FastifyReply;
        raw.status(download.status).headers(download.headers);
        return raw.send(download.body ?? null);
      } catch (error) {
        if (error instanceof RangeNotSatisfiableHttpError) {
          reply.header('content-range', `bytes */${error.size}`);
        }
        throw error;
      }
    },
  });

  app.route({
    method: ['GET', 'HEAD'],
    url: '/attachments/:attachment_id/preview',
    schema: {
      tags,
      summary: "An image attachment's preview (WebP, at most 320×320), by signed expiring link",
      description:
        'The `preview_url` of an Attachment; served inline as image/webp with the same ' +
        'nosniff and sandboxing CSP as the content link. A tampered or expired link (or the ' +
        "content link's signature) is 403; an attachment without a preview is 404.",
      params: AttachmentParams,
      querystring: AttachmentContentQuery,
      response: errorResponses(403, 404),
    },
    handler: async (request, reply) => {
      setLinkSafetyHeaders(reply);
      const preview = await attachments.preview(request.params.attachment_id, request.query, {
        head: request.method === 'HEAD',
      });
      const raw = reply as FastifyReply;
      raw.status(preview.status).headers(preview.headers);
      return raw.send(preview.body ?? null);
    },
  });
};

/** On every answer of the signed-link routes, errors included. */
function setLinkSafetyHeaders(reply: { header(name: string, value: string): unknown }): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('content-security-policy', DOWNLOAD_CSP);
  reply.header('referrer-policy', 'no-referrer');
}

/** Bytes of a refused upload read (and thrown away) so that the client can read the answer. */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;
const DISCARD_LIMIT_MS = 10_000;

/**
 * After a refused upload (413, 404, a storage failure…) the rest of the body is still on its
 * way. Closing the connection at once would make the kernel answer the client's next bytes with
 * a reset, and most clients then lose the error response. So, like a lingering close in other
 * servers: stop parsing, read and discard what follows (never storing it), and hang up only
 * if the body goes on for more than 16 MiB or 10 s beyond this point.
 */
function discardRestOfBody(request: FastifyRequest): void {
  const raw = request.raw;
  if (raw.complete || raw.readableEnded || raw.destroyed) return;
  raw.unpipe();
  let discarded = 0;
  const hangUp = (): void => {
    raw.off('data', onData);
    // Destroying an unfinished request destroys its socket.
    raw.destroy();
  };
  const timer = setTimeout(hangUp, DISCARD_LIMIT_MS);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) hangUp();
  };
  raw.on('data', onData);
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

async function filePart(request: FastifyRequest) {
  if (!request.isMultipart()) {
    throw new AppError(415, 'unsupported_media_type', 'Upload files as multipart/form-data');
  }
  const part = await request.file();
  if (!part) throw new ValidationError('The form has no "file" part', 'missing_file');
  if (part.fieldname !== 'file') {
    part.file.resume();
    throw new ValidationError('The file must be sent as the part named "file"', 'missing_file');
  }
  return {
    filename: part.filename,
    stream: part.file,
    truncated: () => part.file.truncated,
  };
}

/**
 * Errors of the multipart parser and of a client that went away are the client's doing, not
 * server failures: give them a 4xx so they are neither logged as 500s nor blamed on storage.
 */
function uploadError(request: FastifyRequest, error: unknown): unknown {
  if (error instanceof AppError) return error;
  const statusCode = (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    if (statusCode === 413) {
      const code = (error as { code?: unknown }).code;
      return code === 'FST_REQ_FILE_TOO_LARGE'
        ? new AppError(413, 'upload_too_large', 'The file is over the upload limit')
        : new AppError(413, 'too_many_parts', 'The form has too many parts or fields');
    }
    return error;
  }
  if (request.raw.destroyed || request.raw.readableAborted) {
    return new AppError(400, 'upload_interrupted', 'The upload was interrupted');
  }
  const message = error instanceof Error ? error.message : '';
  if (/multipart|boundary|terminated early|unexpected end/i.test(message)) {
    return new AppError(400, 'malformed_multipart', `Malformed multipart body: ${message}`);
  }
  return error;
}
