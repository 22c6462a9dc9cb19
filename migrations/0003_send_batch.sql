-- Sends as batches: every send waiting on a node goes to PostgreSQL as one statement and one
-- commit (a group commit, decision 0006). Replaces the one-message function of 0002; a
-- single send is a batch of one.
DROP FUNCTION "messenger_send_message"(uuid, uuid, uuid, text, uuid, text, uuid[], timestamptz);
--> statement-breakpoint
-- Item i of the batch is (p_chat_ids[i], p_senders[i], p_ids[i], p_contents[i],
-- p_reply_tos[i], p_client_ids[i]); its attachments are the p_attachments[k] with
-- p_attachment_items[k] = i. Items of one chat get their seqs in item order.
--
-- Returns {"items": [...], "marks": {chat_id: [[user_id, received_seq, read_seq], ...]}}:
-- per item {"e": code} (refused: not_found, chat_deleted, empty_message, invalid_reply_to,
-- invalid_attachments), {"d": message} (an earlier message with the same client_message_id)
-- or {"s": seq}; marks are every participant's watermarks as they were before the batch, for
-- each chat with an item that was not refused.
--
-- The checks are those of 0002, in the same order, against the state before the batch. Two
-- items of one batch must therefore not share a client_message_id of one sender and chat, nor
-- an attachment: the caller puts such an item in a later batch, and an exception here (which
-- rolls the whole batch back) guards against a caller that did not.
--
-- VOLATILE (the default) matters: in READ COMMITTED each statement takes a fresh snapshot,
-- so the statement after the locks sees every change committed before they were granted.
CREATE FUNCTION "messenger_send_messages"(
	p_chat_ids uuid[],
	p_senders uuid[],
	p_ids uuid[],
	p_contents text[],
	p_reply_tos uuid[],
	p_client_ids text[],
	p_attachments uuid[],
	p_attachment_items integer[],
	p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql
-- Plans its statements once per connection. Left to choose, PostgreSQL plans them again at
-- every call (a custom plan knows the arrays' lengths, so it always looks cheaper than the
-- generic one), and planning the batch statement costs more than running it.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	v_result jsonb;
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
			SELECT to_jsonb(m) AS duplicate FROM (
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
	SELECT jsonb_build_object(
		'items', (
			SELECT jsonb_agg(
				CASE
					WHEN k.refusal IS NOT NULL THEN jsonb_build_object('e', k.refusal)
					WHEN k.duplicate IS NOT NULL THEN jsonb_build_object('d', k.duplicate)
					ELSE jsonb_build_object('s', s.seq)
				END ORDER BY k.n)
			FROM checked k LEFT JOIN sent s ON s.n = k.n
		),
		-- Read in this statement's snapshot: the marks as they were before the batch.
		'marks', (
			SELECT coalesce(jsonb_object_agg(m.chat_id, m.marks), '{}'::jsonb)
			FROM (
				SELECT p.chat_id,
					jsonb_agg(jsonb_build_array(p.user_id, p.received_seq, p.read_seq) ORDER BY p.joined, p.user_id) AS marks
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
		WHERE a.id = w.id AND (v_result -> 'items' -> (w.n - 1)) ? 's';
	END IF;
	RETURN v_result;
END
$$;
--> statement-breakpoint
-- messenger_newest_messages of 0002 for probes of several chats at once (the status
-- boundaries of a whole batch of sends in one call).
DROP FUNCTION "messenger_newest_messages"(uuid, bigint[], uuid[]);
--> statement-breakpoint
CREATE FUNCTION "messenger_newest_messages"(p_chat_ids uuid[], p_up_to bigint[], p_senders uuid[])
RETURNS TABLE (probe bigint, id uuid, seq bigint)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN QUERY
	SELECT p.i, m.id, m.seq
	FROM unnest(p_chat_ids, p_up_to, p_senders) WITH ORDINALITY AS p(chat_id, up_to, sender, i)
	CROSS JOIN LATERAL (
		(SELECT messages.id, messages.seq FROM messages
			WHERE p.sender IS NULL AND messages.chat_id = p.chat_id AND messages.seq <= p.up_to
			ORDER BY messages.seq DESC LIMIT 1)
		UNION ALL
		(SELECT messages.id, messages.seq FROM messages
			WHERE messages.chat_id = p.chat_id AND messages.sender = p.sender AND messages.seq <= p.up_to
			ORDER BY messages.seq DESC LIMIT 1)
	) m;
END
$$;
