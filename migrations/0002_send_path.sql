-- The whole of a send as one statement: one round trip instead of about ten (decision 0005).
-- It runs in the caller's transaction, or alone as its own when the caller opens none.
-- VOLATILE (the default) matters: in READ COMMITTED each statement below takes a fresh
-- snapshot, so everything read after the chat row lock sees every change committed before
-- the lock was granted (membership, earlier messages of the same client_message_id).
-- Returns {"error": code}, {"duplicate": message, "marks": [...]} for a repeated
-- client_message_id, or {"seq": n, "marks": [...]}; marks are [user_id, received_seq,
-- read_seq] of every participant as they were before the send.
CREATE FUNCTION "messenger_send_message"(
	p_chat_id uuid,
	p_sender uuid,
	p_message_id uuid,
	p_content text,
	p_reply_to uuid,
	p_client_message_id text,
	p_attachments uuid[],
	p_now timestamptz
) RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	v_deleted boolean;
	v_marks jsonb;
	v_is_participant boolean;
	v_duplicate jsonb;
	v_seq bigint;
BEGIN
	-- The chat row lock orders every change of the chat's messages: seq order is commit order.
	SELECT deleted INTO v_deleted FROM chats WHERE id = p_chat_id FOR UPDATE;
	IF NOT FOUND THEN
		RETURN jsonb_build_object('error', 'not_found');
	END IF;
	SELECT
		coalesce(jsonb_agg(jsonb_build_array(user_id, received_seq, read_seq) ORDER BY joined, user_id), '[]'::jsonb),
		coalesce(bool_or(user_id = p_sender), false)
	INTO v_marks, v_is_participant
	FROM chat_participants WHERE chat_id = p_chat_id;
	-- Outsiders get the same answer as for a chat that does not exist.
	IF NOT v_is_participant THEN
		RETURN jsonb_build_object('error', 'not_found');
	END IF;
	IF p_client_message_id IS NOT NULL THEN
		SELECT to_jsonb(m) INTO v_duplicate FROM (
			SELECT id, seq, change_seq, sender, reply_to, content, client_message_id, created, updated, deleted
			FROM messages
			WHERE chat_id = p_chat_id AND sender = p_sender AND client_message_id = p_client_message_id
		) m;
		IF v_duplicate IS NOT NULL THEN
			RETURN jsonb_build_object('duplicate', v_duplicate, 'marks', v_marks);
		END IF;
	END IF;
	IF v_deleted THEN
		RETURN jsonb_build_object('error', 'chat_deleted');
	END IF;
	IF p_content = '' AND cardinality(p_attachments) = 0 THEN
		RETURN jsonb_build_object('error', 'empty_message');
	END IF;
	IF p_reply_to IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM messages WHERE id = p_reply_to AND chat_id = p_chat_id) THEN
		RETURN jsonb_build_object('error', 'invalid_reply_to');
	END IF;
	IF cardinality(p_attachments) > 0 AND (
		SELECT count(*) FROM attachments
		WHERE id = ANY (p_attachments) AND chat_id = p_chat_id AND uploader = p_sender AND message_id IS NULL
	) <> cardinality(p_attachments) THEN
		RETURN jsonb_build_object('error', 'invalid_attachments');
	END IF;
	UPDATE chats
	SET last_seq = last_seq + 1, last_message_id = p_message_id, last_activity = p_now
	WHERE id = p_chat_id
	RETURNING last_seq INTO v_seq;
	INSERT INTO messages (id, chat_id, seq, change_seq, sender, reply_to, content, client_message_id, created, updated, deleted)
	VALUES (p_message_id, p_chat_id, v_seq, v_seq, p_sender, p_reply_to, p_content, p_client_message_id, p_now, p_now, false);
	IF cardinality(p_attachments) > 0 THEN
		UPDATE attachments SET message_id = p_message_id WHERE id = ANY (p_attachments);
	END IF;
	-- Whoever writes has seen the chat: the sender's marks move up to the new message.
	UPDATE chat_participants
	SET received_seq = greatest(received_seq, v_seq), read_seq = greatest(read_seq, v_seq)
	WHERE chat_id = p_chat_id AND user_id = p_sender;
	RETURN jsonb_build_object('seq', v_seq, 'marks', v_marks);
END
$$;
--> statement-breakpoint
-- Status boundaries ask for a participant's newest message at or before a position
-- (messages/status-events.ts); without it that walks the chat's history backwards.
CREATE INDEX "messages_chat_sender_seq_idx" ON "messages" USING btree ("chat_id","sender","seq");
--> statement-breakpoint
-- For each probe i: the newest message of the chat at or before p_up_to[i], only from
-- p_senders[i] where that is not null. PL/pgSQL keeps the plan of the query for the session,
-- which costs several times the query's execution if planned again at every call.
CREATE FUNCTION "messenger_newest_messages"(p_chat_id uuid, p_up_to bigint[], p_senders uuid[])
RETURNS TABLE (probe bigint, id uuid, seq bigint)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN QUERY
	SELECT p.i, m.id, m.seq
	FROM unnest(p_up_to, p_senders) WITH ORDINALITY AS p(up_to, sender, i)
	CROSS JOIN LATERAL (
		(SELECT messages.id, messages.seq FROM messages
			WHERE p.sender IS NULL AND messages.chat_id = p_chat_id AND messages.seq <= p.up_to
			ORDER BY messages.seq DESC LIMIT 1)
		UNION ALL
		(SELECT messages.id, messages.seq FROM messages
			WHERE messages.chat_id = p_chat_id AND messages.sender = p.sender AND messages.seq <= p.up_to
			ORDER BY messages.seq DESC LIMIT 1)
	) m;
END
$$;
