//! The `[[access]]` tables: a name, a role and the variable holding the
//! token. Names are unique; a token is never written in the file.

use super::connection::env_name;
use super::file::AccessTable;
use super::source::{ConfigError, Source};
use crate::serve::access::{AccessConfig, Role};
use std::collections::HashSet;
use toml::Spanned;

pub(super) fn parse(source: &Source<'_>, tables: &[Spanned<AccessTable>]) -> Result<Vec<AccessConfig>, ConfigError> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for t in tables {
        let t = t.get_ref();
        let name = t.name.get_ref().trim().to_string();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(source.at(
                t.name.span(),
                "an [[access]] name must be 1 to 64 letters, digits, '-' or '_' (the audit log shows it)".into(),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(source.at(
                t.name.span(),
                format!("a second [[access]] is named {name:?}; names must be unique"),
            ));
        }
        let role = Role::parse(t.role.get_ref().trim()).ok_or_else(|| {
            source.at(
                t.role.span(),
                format!("access {name}: role must be \"viewer\" or \"operator\""),
            )
        })?;
        let token_env = env_name(&t.token_env, "token_env")
            .map_err(|m| source.at(t.token_env.span(), format!("access {name}: {m}")))?;
        out.push(AccessConfig { name, role, token_env });
    }
    Ok(out)
}
