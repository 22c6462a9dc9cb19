-- A page of history as the JSON text of its answer, in one call: the caller's membership,
-- the cursor, the page and each message's derived status. Encoding the page here spares the
-- node a row object, a mapped row and a Message per message, which made a page cost about
-- 350 KB of short-lived allocation and its garbage collections set the page's p99
-- (docs/benchmarks.md).
--
-- Returns one row (outcome, page):
--   'not_member'   the caller is no participant of the chat (or it does not exist);
--   'bad_cursor'   p_anchor is no message of this chat;
--   'attachments'  a message of the page has attachments: their links are signed by the
--                  node, so the node builds that page itself;
--   'ok'           page is {"items": [...], "has_more": bool}, each item a Message of the
--                  contract with the fields and formats of MessageService.toMessage.
-- p_anchor NULL reads the newest page; otherwise the page before it, or after it when p_after.
CREATE FUNCTION "messenger_history_page"(
	p_chat_id uuid,
	p_user_id uuid,
	p_anchor uuid,
	p_after boolean,
	p_limit integer
) RETURNS TABLE (outcome text, page text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	v_anchor_chat uuid;
	v_anchor_seq bigint;
	v_ids uuid[];
	v_more boolean;
BEGIN
	IF NOT EXISTS (
		SELECT 1 FROM chat_participants WHERE chat_id = p_chat_id AND user_id = p_user_id
	) THEN
		RETURN QUERY SELECT 'not_member'::text, NULL::text;
		RETURN;
	END IF;
	IF p_anchor IS NOT NULL THEN
		SELECT m.chat_id, m.seq INTO v_anchor_chat, v_anchor_seq FROM messages m WHERE m.id = p_anchor;
		IF v_anchor_chat IS DISTINCT FROM p_chat_id THEN
			RETURN QUERY SELECT 'bad_cursor'::text, NULL::text;
			RETURN;
		END IF;
	END IF;
	-- One more than the page: whether more lie beyond it. Newest first, except after a cursor.
	IF p_anchor IS NULL THEN
		SELECT array_agg(m.id ORDER BY m.seq DESC) INTO v_ids FROM (
			SELECT id, seq FROM messages WHERE chat_id = p_chat_id ORDER BY seq DESC LIMIT p_limit + 1
		) m;
	ELSIF p_after THEN
		SELECT array_agg(m.id ORDER BY m.seq) INTO v_ids FROM (
			SELECT id, seq FROM messages WHERE chat_id = p_chat_id AND seq > v_anchor_seq
			ORDER BY seq LIMIT p_limit + 1
		) m;
	ELSE
		SELECT array_agg(m.id ORDER BY m.seq DESC) INTO v_ids FROM (
			SELECT id, seq FROM messages WHERE chat_id = p_chat_id AND seq < v_anchor_seq
			ORDER BY seq DESC LIMIT p_limit + 1
		) m;
	END IF;
	v_ids := coalesce(v_ids, '{}');
	v_more := cardinality(v_ids) > p_limit;
	v_ids := v_ids[1:p_limit];
	IF EXISTS (
		SELECT 1 FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.message_id = ANY (v_ids) AND NOT m.deleted
	) THEN
		RETURN QUERY SELECT 'attachments'::text, NULL::text;
		RETURN;
	END IF;
	-- Status as ReceiptSummary derives it: read once every other participant has read the
	-- message, received once every other one has received it (nobody else: both). The lowest
	-- mark and the one above it stand for every participant: the sender's own mark is skipped
	-- by taking the second when the sender holds the lowest.
	RETURN QUERY
	WITH mark AS (
		SELECT
			(array_agg(p.read_seq ORDER BY p.read_seq))[1] AS read_lowest,
			(array_agg(p.user_id ORDER BY p.read_seq))[1] AS read_lowest_user,
			(array_agg(p.read_seq ORDER BY p.read_seq))[2] AS read_second,
			(array_agg(p.received_seq ORDER BY p.received_seq))[1] AS received_lowest,
			(array_agg(p.user_id ORDER BY p.received_seq))[1] AS received_lowest_user,
			(array_agg(p.received_seq ORDER BY p.received_seq))[2] AS received_second
		FROM chat_participants p WHERE p.chat_id = p_chat_id
	)
	SELECT 'ok'::text, json_build_object(
		'items', coalesce(json_agg(json_build_object(
			'message_id', m.id,
			'chat_id', m.chat_id,
			'sender', m.sender,
			'reply_to', m.reply_to,
			'content', CASE WHEN m.deleted THEN '' ELSE m.content END,
			'attachments', '[]'::json,
			'status', CASE
				WHEN coalesce(CASE WHEN k.read_lowest_user = m.sender THEN k.read_second ELSE k.read_lowest END,
					9223372036854775807) >= m.seq THEN 'read'
				WHEN coalesce(CASE WHEN k.received_lowest_user = m.sender THEN k.received_second ELSE k.received_lowest END,
					9223372036854775807) >= m.seq THEN 'received'
				ELSE 'sent'
			END,
			'created', to_char(m.created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
			'updated', to_char(m.updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
			'deleted', m.deleted,
			'seq', m.seq,
			'client_message_id', m.client_message_id
		) ORDER BY m.seq), '[]'::json),
		'has_more', v_more
	)::text
	FROM messages m CROSS JOIN mark k
	WHERE m.id = ANY (v_ids);
END
$$;
