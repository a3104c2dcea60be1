//! The invariants' names, each written once: they reach traces and
//! violation reports verbatim, so a typo would silently split one invariant
//! into two.

pub const ACKNOWLEDGED_EDIT_KEPT: &str = "acknowledged-edit-kept";
pub const AGENT_SERVES_AFTER_RESTART: &str = "agent-serves-after-restart";
pub const CALLS_SUCCEED: &str = "calls-succeed";
pub const CHANGES_AFTER_ADD: &str = "changes-after-add";
pub const CHANGES_AFTER_EDIT: &str = "changes-after-edit";
pub const CHATLESS_PROCESS_VISIBLE: &str = "chatless-process-visible";
pub const CLEAR_ERROR_NOT_HANG: &str = "clear-error-not-hang";
pub const CLIENT_TASKS_COMPLETE: &str = "client-tasks-complete";
pub const EXIT_CODE_KEPT: &str = "exit-code-kept";
pub const FINAL_FILE_MATCHES_MODEL: &str = "final-file-matches-model";
pub const FINISHED_ANSWER_IS_FINAL: &str = "finished-answer-is-final";
pub const GENERATOR: &str = "generator";
pub const HOSTILE_ANSWER_WELL_FORMED: &str = "hostile-answer-well-formed";
pub const KILL_ENDS_PROCESS: &str = "kill-ends-process";
pub const LIST_IS_SCOPED: &str = "list-is-scoped";
pub const LIST_MATCHES_MODEL: &str = "list-matches-model";
pub const NO_CROSS_CHAT_OUTPUT: &str = "no-cross-chat-output";
pub const NO_CROSS_CHAT_SIGNAL: &str = "no-cross-chat-signal";
pub const NO_DOUBLE_EXECUTION: &str = "no-double-execution";
pub const NO_OUTPUT_LOST: &str = "no-output-lost";
pub const OUTPUT_MATCHES_MODEL: &str = "output-matches-model";
pub const OWN_PROCESS_UNTOUCHED: &str = "own-process-untouched";
pub const PARTIAL_OUTPUT_IS_A_PREFIX: &str = "partial-output-is-a-prefix";
pub const POLLER_SEES_EXIT: &str = "poller-sees-exit";
pub const REJECTED_REQUEST_CHANGES_NOTHING: &str = "rejected-request-changes-nothing";
pub const REQUEST_ANSWERS_PROMPTLY: &str = "request-answers-promptly";
pub const SIGNAL_ANSWERS_200_OR_409: &str = "signal-answers-200-or-409";
pub const TOOL_ANSWERS_JSON: &str = "tool-answers-json";
pub const TOOL_CALL_BOUNDED: &str = "tool-call-bounded";
pub const TOOL_RESULT_IS_TRUE_OR_NAMES_PROCESS: &str = "tool-result-is-true-or-names-process";
pub const WAIT_RETURNS_FINAL: &str = "wait-returns-final";
pub const WAITER_GETS_FINAL: &str = "waiter-gets-final";
pub const WAITER_WAKES_PROMPTLY: &str = "waiter-wakes-promptly";
pub const WATCH_CONNECTS: &str = "watch-connects";
pub const WATCH_REPORTS_REPO_STATE: &str = "watch-reports-repo-state";
pub const WATCH_RESUMES: &str = "watch-resumes";
pub const WATCH_STAYS_OPEN: &str = "watch-stays-open";
