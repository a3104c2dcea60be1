//! LLM-facing chat tools on top of the agent SDK (`docs/design.md#clients`):
//! `execute`, `process_output`, `process_list`, `process_signal`,
//! `read_file`, `edit_files`, `write_file`.
//!
//! Each tool has a name, a JSON schema with the description the model reads
//! ([`registry`]), and a call taking JSON arguments and returning a
//! [`ToolResult`] over any [`AgentConn`] ([`ChatTools::call`]). The outputs are
//! a contract with the model, so they follow the Go original exactly: field
//! order, omitted fields, error texts, Go durations and `json.Marshal`
//! escaping.
//!
//! A call is cancelled by dropping its future. All timing goes through
//! `tokio::time`, so under simulation results are deterministic given a
//! deterministic connection and clock.

pub mod call;
pub mod duration;
pub mod execute;
pub mod files;
pub mod gojson;
pub mod options;
pub mod process;
pub mod result;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use agent_sdk::AgentConn;
use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize};

pub use duration::{DurationError, GoDuration};
pub use options::ToolOptions;
pub use result::{ExecuteResult, ToolResult};

/// The error response when no connection resolver is configured.
pub const RESOLVER_MISSING: &str = "workspace connection resolver is not configured";

/// One chat tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    Execute,
    ProcessOutput,
    ProcessList,
    ProcessSignal,
    ReadFile,
    EditFiles,
    WriteFile,
}

impl Tool {
    /// Every tool, in registry order.
    pub const ALL: [Tool; 7] = [
        Tool::Execute,
        Tool::ProcessOutput,
        Tool::ProcessList,
        Tool::ProcessSignal,
        Tool::ReadFile,
        Tool::EditFiles,
        Tool::WriteFile,
    ];

    /// The name the model calls the tool by.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Execute => "execute",
            Tool::ProcessOutput => "process_output",
            Tool::ProcessList => "process_list",
            Tool::ProcessSignal => "process_signal",
            Tool::ReadFile => "read_file",
            Tool::EditFiles => "edit_files",
            Tool::WriteFile => "write_file",
        }
    }

    /// What the model reads about the tool.
    pub fn description(self) -> &'static str {
        match self {
            Tool::Execute => execute::DESCRIPTION,
            Tool::ProcessOutput => process::OUTPUT_DESCRIPTION,
            Tool::ProcessList => process::LIST_DESCRIPTION,
            Tool::ProcessSignal => process::SIGNAL_DESCRIPTION,
            Tool::ReadFile => files::READ_DESCRIPTION,
            Tool::EditFiles => files::EDIT_DESCRIPTION,
            Tool::WriteFile => files::WRITE_DESCRIPTION,
        }
    }

    /// The JSON schema of the arguments (an object schema).
    pub fn parameters(self) -> serde_json::Value {
        match self {
            Tool::Execute => execute::parameters(),
            Tool::ProcessOutput => process::output_parameters(),
            Tool::ProcessList => process::list_parameters(),
            Tool::ProcessSignal => process::signal_parameters(),
            Tool::ReadFile => files::read_parameters(),
            Tool::EditFiles => files::edit_parameters(),
            Tool::WriteFile => files::write_parameters(),
        }
    }

    pub fn spec(self) -> ToolSpec {
        ToolSpec {
            name: self.name(),
            description: self.description(),
            parameters: self.parameters(),
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a chat tool.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown tool {}", gojson::quote(.0))]
pub struct UnknownTool(pub String);

impl FromStr for Tool {
    type Err = UnknownTool;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| UnknownTool(s.to_string()))
    }
}

/// A tool as the model sees it (the function-calling definition).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: serde_json::Value,
}

/// Every tool with its schema, in a fixed order.
pub fn registry() -> Vec<ToolSpec> {
    Tool::ALL.into_iter().map(Tool::spec).collect()
}

/// The registry as pretty JSON (what `agentsim tools` prints).
pub fn registry_json() -> String {
    serde_json::to_string_pretty(&registry()).unwrap_or_default()
}

/// Finds the workspace connection for a call (chatd's `GetWorkspaceConn`).
#[async_trait]
pub trait ConnResolver: Send + Sync {
    /// The connection, or the error text the model is shown.
    async fn resolve(&self) -> Result<Arc<dyn AgentConn>, String>;
}

/// The tools with their options; cheap to share.
#[derive(Clone, Debug, Default)]
pub struct ChatTools {
    options: ToolOptions,
}

/// Decoded arguments of one call.
enum Args {
    Execute(execute::ExecuteArgs),
    ProcessOutput(process::ProcessOutputArgs),
    ProcessList,
    ProcessSignal(process::ProcessSignalArgs),
    ReadFile(files::ReadFileArgs),
    EditFiles(files::EditFilesArgs),
    WriteFile(files::WriteFileArgs),
}

impl Args {
    /// Decodes `value` for `tool`; `null` reads as `{}`, as in Go.
    fn decode(tool: Tool, value: serde_json::Value) -> Result<Args, ToolResult> {
        let value = match value {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            v => v,
        };
        fn de<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, ToolResult> {
            serde_json::from_value(v)
                .map_err(|e| ToolResult::error(format!("invalid parameters: {e}")))
        }
        Ok(match tool {
            Tool::Execute => Args::Execute(de(value)?),
            Tool::ProcessOutput => Args::ProcessOutput(de(value)?),
            Tool::ProcessList => {
                /// No arguments, but an object all the same (Go's `struct{}`).
                #[derive(Deserialize)]
                struct NoArgs {}
                let NoArgs {} = de(value)?;
                Args::ProcessList
            }
            Tool::ProcessSignal => Args::ProcessSignal(de(value)?),
            Tool::ReadFile => Args::ReadFile(de(value)?),
            Tool::EditFiles => Args::EditFiles(de(value)?),
            Tool::WriteFile => Args::WriteFile(de(value)?),
        })
    }

    /// The argument checks the original makes before resolving a connection.
    fn check_before_resolving(&self) -> Option<ToolResult> {
        match self {
            Args::ProcessOutput(a) => process::check_output_args(a),
            Args::ProcessSignal(a) => process::check_signal_args(a),
            _ => None,
        }
    }
}

impl ChatTools {
    pub fn new(options: ToolOptions) -> Self {
        ChatTools { options }
    }

    pub fn options(&self) -> &ToolOptions {
        &self.options
    }

    /// Calls tool `name` with JSON `args` on `conn`.
    pub async fn call(
        &self,
        name: &str,
        conn: &dyn AgentConn,
        args: serde_json::Value,
    ) -> ToolResult {
        let (_, args) = match decode(name, args) {
            Ok(v) => v,
            Err(e) => return e,
        };
        self.run(conn, args).await
    }

    /// Calls tool `name` the way chatd does: the arguments are decoded, the
    /// resolver must exist, some arguments are checked, then the connection
    /// is resolved (its error text becomes an error response).
    pub async fn call_resolved(
        &self,
        name: &str,
        resolver: Option<&dyn ConnResolver>,
        args: serde_json::Value,
    ) -> ToolResult {
        let (_, args) = match decode(name, args) {
            Ok(v) => v,
            Err(e) => return e,
        };
        let Some(resolver) = resolver else {
            return ToolResult::error(RESOLVER_MISSING);
        };
        if let Some(err) = args.check_before_resolving() {
            return err;
        }
        match resolver.resolve().await {
            Ok(conn) => self.run(conn.as_ref(), args).await,
            Err(e) => ToolResult::error(e),
        }
    }

    async fn run(&self, conn: &dyn AgentConn, args: Args) -> ToolResult {
        let opts = &self.options;
        match args {
            Args::Execute(a) => execute::run(opts, conn, a).await,
            Args::ProcessOutput(a) => process::output(opts, conn, a).await,
            Args::ProcessList => process::list(conn).await,
            Args::ProcessSignal(a) => process::signal(conn, a).await,
            Args::ReadFile(a) => files::read(opts, conn, a).await,
            Args::EditFiles(a) => files::edit(conn, a).await,
            Args::WriteFile(a) => files::write(conn, a).await,
        }
    }
}

fn decode(name: &str, args: serde_json::Value) -> Result<(Tool, Args), ToolResult> {
    let tool: Tool = name
        .parse()
        .map_err(|e: UnknownTool| ToolResult::error(e.to_string()))?;
    Ok((tool, Args::decode(tool, args)?))
}

/// Reads `null` as the type's zero value, as Go's decoder leaves the field
/// untouched.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
