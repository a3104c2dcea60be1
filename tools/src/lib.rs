//! LLM-facing chat tools on top of the agent SDK (spec section 6):
//! `execute`, `process_output`, `process_list`, `process_signal`,
//! `read_file`, `edit_files`, `write_file`. Filled in by the chat-tools issue.
