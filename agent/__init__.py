"""The conversation agent: a Cohere (or scripted) chat model driving the MCP tools, with persisted history.

It knows tasks only through the MCP tools' schemas: nothing here imports `domain`, `web`, `mcp_server` or
`services`. Modules stay import-light (the SQLModel tables are imported by the Alembic metadata), so the public
API is imported from its module: `agent.agent.Agent`, `agent.settings.AgentSettings`, `agent.model_choice.build_model`,
`agent.store.ConversationStore`, `agent.mcp_client.McpToolbox` / `connect_in_process` / `connect_remote`,
`agent.pool.SessionPool` (one MCP client per user across turns), `agent.slots.TurnSlots` (turns running at once),
`agent.stream` (the turn events).
"""
