//! Copr clients are loose about types: numbers come as strings
//! (`"timeout": "100"`), booleans as Python's `True`/`False` in query
//! strings, lists as JSON arrays or space-separated strings, and `null`
//! means "not given". [`Fields`] reads a JSON body, a multipart `json`
//! part or a query string with those rules, so handlers ask for typed
//! values and never see the variations.

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::error::Error;

use super::CoprResult;

/// Named values of a request.
#[derive(Debug, Default, Clone)]
pub struct Fields(Map<String, Value>);

impl Fields {
    /// A JSON object body (an empty body is no fields).
    pub fn from_json(body: &[u8]) -> CoprResult<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(Error::bad_request("the request body must be a JSON object").into()),
            Err(e) => Err(Error::bad_request(format!("the request body is not JSON: {e}")).into()),
        }
    }

    /// A query string; a repeated key becomes a list.
    pub fn from_query(query: Option<&str>) -> CoprResult<Self> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| Error::bad_request(format!("malformed query string: {e}")))?;
        let mut map = Map::new();
        for (key, value) in pairs {
            match map.get_mut(&key) {
                Some(Value::Array(list)) => list.push(Value::String(value)),
                Some(first) => {
                    let first = first.take();
                    map.insert(key, Value::Array(vec![first, Value::String(value)]));
                }
                None => {
                    map.insert(key, Value::String(value));
                }
            }
        }
        Ok(Self(map))
    }

    /// A multipart `json` part.
    pub fn from_part(bytes: &Bytes) -> CoprResult<Self> {
        Self::from_json(bytes)
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A text value; numbers and booleans as they print.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => items.last().and_then(|v| v.as_str()).map(str::to_owned),
            other => Some(other.to_string()),
        }
    }

    /// Every key that has a value, in the order sent.
    pub fn keys(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A nested object (`{"alice": {"builder": "approved"}}`).
    pub fn object(&self, key: &str) -> CoprResult<Self> {
        match self.get(key) {
            Some(Value::Object(map)) => Ok(Self(map.clone())),
            _ => Err(Error::bad_request(format!("{key}: expected an object")).into()),
        }
    }

    /// A text value that must be there.
    pub fn required(&self, key: &str) -> CoprResult<String> {
        self.str(key)
            .ok_or_else(|| Error::bad_request(format!("Missing argument {key}")).into())
    }

    /// A boolean: `true`, `"True"`, `"true"`, `1`, `"1"`, `"yes"`, `"on"`
    /// are true; `false`, `"False"`, `""`, `0` and the rest are false.
    pub fn bool(&self, key: &str) -> Option<bool> {
        Some(match self.get(key)? {
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_i64() != Some(0),
            Value::String(s) => matches!(
                s.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "y" | "on"
            ),
            _ => false,
        })
    }

    /// An integer, from a number or a numeric string.
    pub fn int(&self, key: &str) -> CoprResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::bad_request(format!("{key}: not an integer")).into()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| {
                    Error::bad_request(format!("{key}: '{s}' is not an integer")).into()
                })
            }
            Some(_) => Err(Error::bad_request(format!("{key}: not an integer")).into()),
        }
    }

    /// A list, from a JSON array or a space- or comma-separated string.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        Some(match self.get(key)? {
            Value::Array(items) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .filter(|s| !s.is_empty())
                .collect(),
            Value::String(s) => s
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            other => vec![other.to_string()],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_stand_for_numbers_and_booleans() {
        let f = Fields::from_json(
            br#"{"timeout": "100", "n": 7, "bg": "False", "net": true, "x": null,
                 "pkgs": "a b,c", "l": ["d", "e"], "empty": ""}"#,
        )
        .unwrap();
        assert_eq!(f.int("timeout").unwrap(), Some(100));
        assert_eq!(f.int("n").unwrap(), Some(7));
        assert_eq!(f.int("empty").unwrap(), None);
        assert!(f.int("bg").is_err());
        assert_eq!(f.bool("bg"), Some(false));
        assert_eq!(f.bool("net"), Some(true));
        assert_eq!(f.bool("empty"), Some(false));
        assert_eq!(f.bool("x"), None);
        assert_eq!(f.list("pkgs").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(f.list("l").unwrap(), vec!["d", "e"]);
    }

    #[test]
    fn query_strings_repeat_keys_into_lists() {
        let f = Fields::from_query(Some(
            "ownername=%40kde&with_latest_build=True&additional_fields%5B%5D=url_build&additional_fields%5B%5D=url_build_log",
        ))
        .unwrap();
        assert_eq!(f.str("ownername").unwrap(), "@kde");
        assert_eq!(f.bool("with_latest_build"), Some(true));
        assert_eq!(
            f.list("additional_fields[]").unwrap(),
            vec!["url_build", "url_build_log"]
        );
        assert!(Fields::from_json(b"[1]").is_err());
        assert!(Fields::from_json(b"").unwrap().str("a").is_none());
    }
}
