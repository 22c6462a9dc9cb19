-- messenger_send_batch: messenger_send_messages of 0003 answering in json instead of jsonb,
-- and each chat's marks as one string instead of an array of arrays. Same arguments, same
-- checks, same writes. Building jsonb values cost more than the whole rest of a send of one
-- to a chat of 100 (0.96 against 0.55 ms of PostgreSQL CPU per send, measured with pgbench):
-- jsonb parses and sorts every value it is built from, json only writes text, and string_agg
-- of the marks less still. Nothing reads the answer but the caller, which parses it either way.
--
-- A new name beside the old function rather than a replacement: during a rolling upgrade the
-- nodes of the previous release go on calling messenger_send_messages, whose answer they
-- understand. The migration after the next release drops it.
-- Returns {"items": [...], "marks": {chat_id: "user_id received_seq read_seq user_id ..."}}:
-- items as in 0003; marks are every participant's watermarks as they were before the batch,
-- space-separated triples in no particular order, for each chat with an item that was not
-- refused.
CREATE FUNCTION "messenger_send_batch"(
	p_chat_ids uuid[],
	p_senders uuid[],
	p_ids uuid[],
	p_contents text[],
	p_reply_tos uuid[],
	p_client_ids text[],
	p_attachments uuid[],
	p_attachment_items integer[],
	p_now timestamptz
) RETURNS json
LANGUAGE plpgsql
-- Plans its statements once per connection. Left to choose, PostgreSQL plans them again at
-- every call (a custom plan knows the arrays' lengths, so it always looks cheaper than the
-- generic one), and planning the batch statement costs more than running it.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_result json;
BEGIN
	IF cardinality(p_ids) > 1 AND (
		(SELECT count(DISTINCT a) FROM unnest(p_attachments) a) <> cardinality(p_attachments)
		OR (SELECT count(DISTINCT (c, s, k)) FROM unnest(p_chat_ids, p_senders, p_client_ids) AS u(c, s, k) WHERE k IS NOT NULL)
			<> (SELECT count(*) FROM unnest(p_client_ids) k WHERE k IS NOT NULL)
	) THEN
		RAISE EXCEPTION 'a batch of sends shares an attachment or a client_message_id';
	END IF;
	-- The chat row locks order every change of a chat's messages: seq order is commit order.
	-- Taken in one order (by id) so that two batches, on one node or two, never wait for each
	-- other in a cycle.
	PERFORM 1 FROM chats WHERE id = ANY (p_chat_ids) ORDER BY id FOR UPDATE;
	WITH item AS (
		SELECT u.*
		FROM unnest(p_chat_ids, p_senders, p_ids, p_contents, p_reply_tos, p_client_ids)
			WITH ORDINALITY AS u(chat_id, sender, id, content, reply_to, client_id, n)
	),
	-- Each item's facts by index lookups: OFFSET 0 keeps the planner from flattening the
	-- lateral subqueries into hash joins, which the cached plan (made once per connection,
	-- perhaps while the tables were small) would go on using when they are large.
	checked AS (
		SELECT i.*, c.last_seq, d.duplicate,
			CASE
				WHEN c.id IS NULL THEN 'not_found'
				-- Outsiders get the same answer as for a chat that does not exist.
				WHEN NOT p.member THEN 'not_found'
				WHEN d.duplicate IS NOT NULL THEN NULL
				WHEN c.deleted THEN 'chat_deleted'
				WHEN i.content = '' AND w.wanted = 0 THEN 'empty_message'
				WHEN i.reply_to IS NOT NULL AND NOT r.valid THEN 'invalid_reply_to'
				WHEN w.usable <> w.wanted THEN 'invalid_attachments'
			END AS refusal
		FROM item i
		LEFT JOIN LATERAL (
			SELECT chats.id, chats.last_seq, chats.deleted FROM chats WHERE chats.id = i.chat_id OFFSET 0
		) c ON true
		CROSS JOIN LATERAL (
			SELECT EXISTS (
				SELECT 1 FROM chat_participants
				WHERE chat_participants.chat_id = i.chat_id AND chat_participants.user_id = i.sender
			) AS member OFFSET 0
		) p
		CROSS JOIN LATERAL (
			SELECT EXISTS (
				SELECT 1 FROM messages WHERE messages.id = i.reply_to AND messages.chat_id = i.chat_id
			) AS valid OFFSET 0
		) r
		LEFT JOIN LATERAL (
			SELECT row_to_json(m) AS duplicate FROM (
				SELECT messages.id, messages.seq, messages.change_seq, messages.sender, messages.reply_to,
					messages.content, messages.client_message_id, messages.created, messages.updated, messages.deleted
				FROM messages
				WHERE messages.chat_id = i.chat_id AND messages.sender = i.sender
					AND messages.client_message_id = i.client_id
				OFFSET 0
			) m
		) d ON true
		CROSS JOIN LATERAL (
			SELECT count(*) AS wanted, count(a.id) AS usable
			FROM unnest(p_attachments, p_attachment_items) AS w(id, n)
			LEFT JOIN attachments a
				ON a.id = w.id AND a.chat_id = i.chat_id AND a.uploader = i.sender AND a.message_id IS NULL
			WHERE w.n = i.n
		) w
	),
	sent AS (
		SELECT k.n, k.chat_id, k.sender, k.id, k.content, k.reply_to, k.client_id,
			k.last_seq + row_number() OVER (PARTITION BY k.chat_id ORDER BY k.n) AS seq
		FROM checked k
		WHERE k.refusal IS NULL AND k.duplicate IS NULL
	),
	inserted AS (
		INSERT INTO messages (id, chat_id, seq, change_seq, sender, reply_to, content, client_message_id, created, updated, deleted)
		SELECT s.id, s.chat_id, s.seq, s.seq, s.sender, s.reply_to, s.content, s.client_id, p_now, p_now, false
		FROM sent s
	),
	chat_update AS (
		UPDATE chats c
		SET last_seq = s.seq, last_message_id = s.id, last_activity = p_now
		FROM (SELECT DISTINCT ON (chat_id) chat_id, seq, id FROM sent ORDER BY chat_id, seq DESC) s
		WHERE c.id = s.chat_id
	),
	-- Whoever writes has seen the chat: the sender's marks move up to their newest message.
	mark_update AS (
		UPDATE chat_participants p
		SET received_seq = greatest(p.received_seq, s.seq), read_seq = greatest(p.read_seq, s.seq)
		FROM (SELECT chat_id, sender, max(seq) AS seq FROM sent GROUP BY chat_id, sender) s
		WHERE p.chat_id = s.chat_id AND p.user_id = s.sender
	)
	SELECT json_build_object(
		'items', (
			SELECT json_agg(
				CASE
					WHEN k.refusal IS NOT NULL THEN json_build_object('e', k.refusal)
					WHEN k.duplicate IS NOT NULL THEN json_build_object('d', k.duplicate)
					ELSE json_build_object('s', s.seq)
				END ORDER BY k.n)
			FROM checked k LEFT JOIN sent s ON s.n = k.n
		),
		-- Read in this statement's snapshot: the marks as they were before the batch.
		'marks', (
			SELECT coalesce(json_object_agg(m.chat_id, m.marks), '{}'::json)
			FROM (
				SELECT p.chat_id,
					string_agg(p.user_id::text || ' ' || p.received_seq || ' ' || p.read_seq, ' ') AS marks
				FROM chat_participants p
				WHERE p.chat_id IN (SELECT chat_id FROM checked WHERE refusal IS NULL)
				GROUP BY p.chat_id
			) m
		)
	) INTO v_result;
	-- Apart, and only when there are any: most sends have no attachments, and a statement
	-- that could write attachments costs even when it writes none.
	IF cardinality(p_attachments) > 0 THEN
		UPDATE attachments a
		SET message_id = (SELECT p_ids[w.n])
		FROM unnest(p_attachments, p_attachment_items) AS w(id, n)
		WHERE a.id = w.id AND (v_result -> 'items' -> (w.n - 1) ->> 's') IS NOT NULL;
	END IF;
	RETURN v_result;
END
$$;

