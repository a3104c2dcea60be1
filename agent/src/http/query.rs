//! Query-string validation shared by the file endpoints, shaped like the Go
//! agent's `httpapi.QueryParamParser`: every problem is collected into one
//! 400 `Query parameters have invalid values.` with `validations`, and a
//! parameter the endpoint does not know is itself a validation error.

use std::collections::BTreeSet;

use crate::http::error::{ApiError, Validation};

use crate::files::goerr::quote;

/// Parses one request's query string; call [`QueryParams::finish`] last.
#[derive(Debug)]
pub struct QueryParams {
    values: Vec<(String, String)>,
    /// Names whose raw value is not UTF-8 once percent-decoded: the decoder
    /// above would have replaced the bad bytes with U+FFFD and a path would
    /// silently name another file.
    not_utf8: BTreeSet<String>,
    parsed: BTreeSet<String>,
    errors: Vec<Validation>,
}

impl QueryParams {
    /// Pairs that fail to decode are dropped, as Go's `URL.Query` does.
    pub fn new(raw: Option<&str>) -> Self {
        let values = raw
            .map(|q| {
                q.split('&')
                    .filter(|pair| !pair.is_empty())
                    .filter_map(|pair| {
                        serde_urlencoded::from_str::<Vec<(String, String)>>(pair)
                            .ok()
                            .and_then(|mut v| v.pop())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let not_utf8 = raw
            .map(|q| {
                q.split('&')
                    .filter_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        let value = value.replace('+', " ");
                        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&value).collect();
                        std::str::from_utf8(&bytes).is_err().then(|| {
                            let name = percent_encoding::percent_decode_str(name);
                            name.decode_utf8_lossy().into_owned()
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        QueryParams {
            values,
            not_utf8,
            parsed: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    /// The first value of `name`, marking it as known.
    fn get(&mut self, name: &str) -> Option<String> {
        self.parsed.insert(name.to_string());
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// A parameter that must be present and non-empty.
    pub fn required_string(&mut self, name: &str) -> String {
        match self.get(name) {
            Some(v) if !v.is_empty() => v,
            _ => {
                self.errors.push(Validation {
                    field: name.to_string(),
                    detail: format!(
                        "Query param {} is required and cannot be empty",
                        quote(name)
                    ),
                });
                String::new()
            }
        }
    }

    /// A non-negative 64-bit integer; absent or empty gives `default`.
    pub fn non_negative_i64(&mut self, name: &str, default: i64) -> i64 {
        let Some(raw) = self.get(name).filter(|v| !v.is_empty()) else {
            return default;
        };
        let problem = match raw.parse::<i64>() {
            Ok(v) if v >= 0 => return v,
            Ok(_) => "value is negative".to_string(),
            Err(e) => {
                use std::num::IntErrorKind::{NegOverflow, PosOverflow};
                let why = match e.kind() {
                    PosOverflow | NegOverflow => "value out of range",
                    _ => "invalid syntax",
                };
                format!("strconv.ParseInt: parsing {}: {why}", quote(&raw))
            }
        };
        self.errors.push(Validation {
            field: name.to_string(),
            detail: format!(
                "Query param {} must be a valid 64-bit positive integer: {problem}",
                quote(name)
            ),
        });
        default
    }

    /// A boolean in Go's `strconv.ParseBool` spellings ([`parse_bool`]);
    /// absent or empty gives `default`, anything else is a validation error.
    pub fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.get(name).filter(|v| !v.is_empty()) else {
            return default;
        };
        if let Some(v) = parse_bool(&raw) {
            return v;
        }
        self.errors.push(Validation {
            field: name.to_string(),
            detail: format!(
                "Query param {} must be a valid boolean: strconv.ParseBool: parsing {}: invalid \
                 syntax",
                quote(name),
                quote(&raw)
            ),
        });
        default
    }

    /// Flags unknown parameters (sorted, for deterministic output), values
    /// that are not UTF-8 or hold a NUL byte (no path or name may), and
    /// returns the 400 if anything was wrong.
    pub fn finish(mut self) -> Result<(), ApiError> {
        for name in &self.parsed {
            if self.not_utf8.contains(name) {
                self.errors.push(Validation {
                    field: name.clone(),
                    detail: format!(
                        "Query param {} must be valid UTF-8 after percent-decoding",
                        quote(name)
                    ),
                });
            } else if self
                .values
                .iter()
                .any(|(k, v)| k == name && v.contains('\0'))
            {
                self.errors.push(Validation {
                    field: name.clone(),
                    detail: format!("Query param {} must not contain NUL bytes", quote(name)),
                });
            }
        }
        let unknown: BTreeSet<&String> = self
            .values
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !self.parsed.contains(*k))
            .collect();
        let unknown: Vec<Validation> = unknown
            .into_iter()
            .map(|k| Validation {
                field: k.clone(),
                detail: format!("Query param {} is not a valid query param", quote(k)),
            })
            .collect();
        self.errors.extend(unknown);
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(
            ApiError::bad_request("Query parameters have invalid values.")
                .with_validations(self.errors),
        )
    }
}

/// Go's `strconv.ParseBool`: `1 t T TRUE true True` are true, `0 f F FALSE
/// false False` are false, every other spelling (`yes`, `TRue`, ` true`) is
/// `None`. Shared by every endpoint that takes a boolean query parameter, so
/// they all accept the same words.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(err: ApiError) -> Vec<String> {
        err.body
            .validations
            .unwrap_or_default()
            .into_iter()
            .map(|v| format!("{}: {}", v.field, v.detail))
            .collect()
    }

    #[test]
    fn values_are_percent_decoded_and_first_wins() {
        let mut q = QueryParams::new(Some("path=%2Ftmp%2Fa%26b+c&path=/other&offset=3"));
        assert_eq!(q.required_string("path"), "/tmp/a&b c");
        assert_eq!(q.non_negative_i64("offset", 0), 3);
        assert_eq!(q.non_negative_i64("limit", 7), 7);
        assert!(q.finish().is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut q = QueryParams::new(Some("offset=-1&limit=x&zeta=1&alpha=2"));
        q.required_string("path");
        q.non_negative_i64("offset", 0);
        q.non_negative_i64("limit", 0);
        let err = q.finish().expect_err("invalid");
        assert_eq!(err.body.message, "Query parameters have invalid values.");
        assert_eq!(
            details(err),
            vec![
                r#"path: Query param "path" is required and cannot be empty"#,
                r#"offset: Query param "offset" must be a valid 64-bit positive integer: value is negative"#,
                r#"limit: Query param "limit" must be a valid 64-bit positive integer: strconv.ParseInt: parsing "x": invalid syntax"#,
                r#"alpha: Query param "alpha" is not a valid query param"#,
                r#"zeta: Query param "zeta" is not a valid query param"#,
            ]
        );
    }

    #[test]
    fn a_nul_byte_or_invalid_utf8_in_a_value_is_a_validation_error() {
        let check = |raw: &str, want: &str| {
            let mut q = QueryParams::new(Some(raw));
            let _ = q.required_string("path");
            let err = q.finish().expect_err(raw);
            assert_eq!(details(err), vec![want.to_string()], "{raw}");
        };
        check(
            "path=/tmp/a%00b",
            "path: Query param \"path\" must not contain NUL bytes",
        );
        check(
            "path=/tmp/%FF%FE",
            "path: Query param \"path\" must be valid UTF-8 after percent-decoding",
        );
        let mut ok = QueryParams::new(Some("path=/tmp/caf%C3%A9+x"));
        assert_eq!(ok.required_string("path"), "/tmp/café x");
        assert!(ok.finish().is_ok());
    }

    #[test]
    fn empty_value_means_default() {
        let mut q = QueryParams::new(Some("path=/a&limit="));
        q.required_string("path");
        assert_eq!(q.non_negative_i64("limit", 5), 5);
        assert!(q.finish().is_ok());
    }

    #[test]
    fn booleans_take_exactly_go_parse_bool_spellings() {
        let cases: &[(&str, Option<bool>)] = &[
            ("1", Some(true)),
            ("t", Some(true)),
            ("T", Some(true)),
            ("TRUE", Some(true)),
            ("true", Some(true)),
            ("True", Some(true)),
            ("0", Some(false)),
            ("f", Some(false)),
            ("F", Some(false)),
            ("FALSE", Some(false)),
            ("false", Some(false)),
            ("False", Some(false)),
            ("tRUE", None),
            ("yes", None),
            ("on", None),
            (" true", None),
            ("2", None),
            ("", None),
        ];
        for &(raw, want) in cases {
            assert_eq!(parse_bool(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn a_boolean_parameter_defaults_when_absent_and_rejects_other_words() {
        let mut q = QueryParams::new(Some("wait=T&follow="));
        assert!(q.boolean("wait", false));
        assert!(q.boolean("follow", true), "empty means default");
        assert!(!q.boolean("absent", false));
        assert!(q.finish().is_ok());

        let mut q = QueryParams::new(Some("wait=yes"));
        assert!(!q.boolean("wait", false));
        assert_eq!(
            details(q.finish().expect_err("invalid")),
            vec![
                r#"wait: Query param "wait" must be a valid boolean: strconv.ParseBool: parsing "yes": invalid syntax"#
            ]
        );
    }
}
