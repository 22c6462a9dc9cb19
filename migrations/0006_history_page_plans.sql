-- messenger_history_page plans its statements once per connection, as the send functions
-- do (0003, 0004). Left to choose, PostgreSQL planned them again at every call: a custom
-- plan knows the chat and the cursor, so it looks cheaper than the generic one, which is the
-- same index scan. Planning was about a tenth of a page's time in PostgreSQL (pgbench at
-- 100 calls a second: 1.05 ms of backend CPU per page, 0.93 ms with this).
ALTER FUNCTION "messenger_history_page"(uuid, uuid, uuid, boolean, integer)
	SET plan_cache_mode = force_generic_plan;
