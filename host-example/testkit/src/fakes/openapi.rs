//! Checks requests against an OpenAPI 3 document: the operation (method and
//! path template), declared header and query parameters, and the body
//! against its schema (JSON, or a form: `application/x-www-form-urlencoded`).
//! The fake GHL refuses what the official spec would not accept, so the tests
//! prove the component speaks the spec. Answers can be checked against the
//! declared response schemas too ([`OpenApi::check_response`]).

use serde_json::Value;

/// GHL's official Social Planner spec (a copy of `shared/ghl-openapi/`).
pub const GHL_SPEC: &str = include_str!("../../../../spec/social-media-posting.json");

/// Decoded path parameters, `(name, value)`.
pub type Params = Vec<(String, String)>;

/// An OpenAPI document.
pub struct OpenApi {
    doc: Value,
}

/// The operation a request matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    pub operation_id: String,
    pub template: String,
    /// Path parameters, percent-decoded.
    pub params: Params,
}

impl OpenApi {
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if doc.get("paths").and_then(Value::as_object).is_none() {
            return Err("no `paths`".into());
        }
        Ok(OpenApi { doc })
    }

    /// The GHL spec.
    pub fn ghl() -> Self {
        Self::parse(GHL_SPEC).expect("the bundled GHL spec parses")
    }

    /// The official OAuth spec (`spec/oauth.json`).
    pub fn oauth() -> Self {
        Self::parse(super::oauth::OAUTH_SPEC).expect("the bundled OAuth spec parses")
    }

    /// Checks one request; `path` is the raw (encoded) path, `query` the
    /// decoded pairs. Returns every problem found.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Result<Matched, Vec<String>> {
        let (template, op, params) = self.find(method, path)?;
        let mut problems = Vec::new();
        let declared = op
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut query_names = Vec::new();
        for p in &declared {
            let p = self.resolve(p);
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            let place = p.get("in").and_then(Value::as_str).unwrap_or("");
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = p.get("schema").cloned().unwrap_or(Value::Null);
            let value: Option<String> = match place {
                "header" => headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone()),
                "query" => {
                    query_names.push(name.to_string());
                    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
                }
                "path" => params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
                _ => continue,
            };
            match value {
                None if required => problems.push(format!("{place} parameter `{name}` is required")),
                None => {}
                Some(v) => {
                    if let Err(e) = self.check_scalar(&schema, &v) {
                        problems.push(format!("{place} parameter `{name}`: {e}"));
                    }
                }
            }
        }
        for (k, _) in query {
            if !query_names.contains(k) {
                problems.push(format!("query parameter `{k}` is not defined for {method} {template}"));
            }
        }
        let body_spec = op.get("requestBody").map(|b| self.resolve(b));
        match (body_spec, body.filter(|b| !b.is_empty())) {
            (None, Some(_)) => problems.push(format!("{method} {template} takes no body")),
            (Some(spec), None) => {
                if spec.get("required").and_then(Value::as_bool).unwrap_or(false) {
                    problems.push("a request body is required".into());
                }
            }
            (Some(spec), Some(bytes)) => {
                let content_type = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
                let json = spec.pointer("/content/application~1json/schema");
                let form = spec.pointer("/content/application~1x-www-form-urlencoded/schema");
                // A body is read as a form only when it says it is one and
                // the spec takes one; any other body is held to the JSON
                // rules when the spec takes JSON.
                match (content_type.as_deref(), json, form) {
                    (Some(FORM), _, Some(schema)) => self.check_form(schema, bytes, &mut problems),
                    (_, Some(schema), _) => {
                        if content_type.as_deref() != Some("application/json") {
                            problems.push("Content-Type must be application/json".into());
                        }
                        match serde_json::from_slice::<Value>(bytes) {
                            Err(e) => problems.push(format!("body is not JSON: {e}")),
                            Ok(v) => self.check_value(schema, &v, "body", &mut problems),
                        }
                    }
                    (_, None, Some(_)) => problems.push(format!("Content-Type must be {FORM}")),
                    (_, None, None) => problems.push("the spec declares no JSON body here".into()),
                }
            }
            (None, None) => {}
        }
        if problems.is_empty() {
            Ok(Matched {
                operation_id: op.get("operationId").and_then(Value::as_str).unwrap_or("").to_string(),
                template,
                params,
            })
        } else {
            Err(problems)
        }
    }

    /// Checks an answer against the JSON schema the operation declares for
    /// `status`; `path` is the raw request path.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Result<(), Vec<String>> {
        let (template, op, _) = self.find(method, path)?;
        let pointer = format!("/responses/{status}/content/application~1json/schema");
        let Some(schema) = op.pointer(&pointer) else {
            return Err(vec![format!(
                "{method} {template} declares no JSON answer for {status}"
            )]);
        };
        let value: Value = serde_json::from_slice(body).map_err(|e| vec![format!("answer is not JSON: {e}")])?;
        let mut problems = Vec::new();
        self.check_value(schema, &value, "answer", &mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// A form body: every field a declared property (a form is flat, as a
    /// query is, so an undeclared field is refused as an undeclared query
    /// parameter is), no field twice, each value a scalar of its property's
    /// type and enum, the required ones present.
    fn check_form(&self, schema: &Value, bytes: &[u8], problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let props = schema.get("properties").and_then(Value::as_object);
        let Ok(text) = std::str::from_utf8(bytes) else {
            problems.push("form body is not UTF-8".into());
            return;
        };
        let pairs = decode_pairs(text);
        for (i, (k, v)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                problems.push(format!("body: `{k}` is given twice"));
                continue;
            }
            match props.and_then(|p| p.get(k)) {
                None => problems.push(format!("body: `{k}` is not a known property")),
                Some(prop) => {
                    if let Err(e) = self.check_scalar(prop, v) {
                        problems.push(format!("body.{k}: {e}"));
                    }
                }
            }
        }
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if let Some(name) = r.as_str() {
                if !pairs.iter().any(|(k, _)| k == name) {
                    problems.push(format!("body: `{name}` is required"));
                }
            }
        }
    }

    /// The operation for a method and raw path; literal segments win over
    /// parameters when several templates fit.
    fn find(&self, method: &str, path: &str) -> Result<(String, Value, Params), Vec<String>> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, String, Params)> = None;
        for (template, _) in self.doc["paths"].as_object().into_iter().flatten() {
            let tsegs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            if tsegs.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let mut params = Vec::new();
            let fits = tsegs.iter().zip(&segs).all(|(t, s)| {
                if t.starts_with('{') && t.ends_with('}') {
                    let decoded = percent_decode(s);
                    params.push((t[1..t.len() - 1].to_string(), decoded));
                    !s.is_empty()
                } else {
                    literal += 1;
                    t == s
                }
            });
            if fits && best.as_ref().is_none_or(|(l, _, _)| literal > *l) {
                best = Some((literal, template.clone(), params));
            }
        }
        let Some((_, template, params)) = best else {
            return Err(vec![format!("no operation has the path {path}")]);
        };
        let op = self.doc["paths"][&template].get(method.to_ascii_lowercase()).cloned();
        match op {
            Some(op) => Ok((template, op, params)),
            None => Err(vec![format!("{template} has no {method} operation")]),
        }
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..16 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with("#/") => match self.doc.pointer(&r[1..]) {
                    Some(target) => v = target,
                    None => return v,
                },
                _ => return v,
            }
        }
        v
    }

    fn check_scalar(&self, schema: &Value, v: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.iter().any(|o| o.as_str() == Some(v)) {
                return Err(format!("`{v}` is not one of {options:?}"));
            }
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("number") if v.parse::<f64>().is_err() => Err(format!("`{v}` is not a number")),
            Some("integer") if v.parse::<i64>().is_err() => Err(format!("`{v}` is not an integer")),
            Some("boolean") if v != "true" && v != "false" => Err(format!("`{v}` is not a boolean")),
            _ => Ok(()),
        }
    }

    /// A JSON-schema subset: `$ref`, `allOf`, `type`, `enum`, `required`,
    /// `properties`, `additionalProperties`, `items`, `minItems`, `maxItems`.
    fn check_value(&self, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check_value(s, v, at, problems);
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(v) {
                problems.push(format!("{at}: {v} is not one of {}", Value::Array(options.clone())));
            }
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("number") => v.is_number(),
            Some("integer") => v.as_i64().is_some() || v.as_u64().is_some(),
            Some("boolean") => v.is_boolean(),
            _ => true,
        };
        if !type_ok {
            problems.push(format!("{at}: expected {}, got {v}", ty.unwrap_or("?")));
            return;
        }
        if let Some(obj) = v.as_object() {
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = r.as_str() {
                    if !obj.contains_key(name) {
                        problems.push(format!("{at}: `{name}` is required"));
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check_value(s, val, &format!("{at}.{k}"), problems),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => problems.push(format!("{at}: `{k}` is not a known property")),
                        Some(s @ Value::Object(_)) => self.check_value(s, val, &format!("{at}.{k}"), problems),
                        _ => {}
                    },
                }
            }
        }
        if let Some(items) = v.as_array() {
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    problems.push(format!("{at}: needs at least {min} items"));
                }
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if (items.len() as u64) > max {
                    problems.push(format!("{at}: takes at most {max} items"));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check_value(item_schema, item, &format!("{at}[{i}]"), problems);
                }
            }
        }
    }
}

/// Decodes `%XX` escapes.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The media type of a form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Splits a request URL's path and decoded query pairs.
pub fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    (path.to_string(), decode_pairs(query))
}

/// The decoded pairs of a query string or a form body (`+` is a space), in
/// order, repeats kept.
pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn accepts_a_conforming_tags_request() {
        let api = OpenApi::ghl();
        let m = api
            .check(
                "GET",
                "/social-media-posting/loc%2F1/tags",
                &h(&[("limit", "100"), ("skip", "0")]),
                &h(&[("Version", "2021-07-28")]),
                None,
            )
            .unwrap();
        assert_eq!(m.operation_id, "get-tags-location-id");
        assert_eq!(m.params, h(&[("locationId", "loc/1")]));
    }

    #[test]
    fn refuses_what_the_spec_does_not_allow() {
        let api = OpenApi::ghl();
        let e = api
            .check(
                "GET",
                "/social-media-posting/l/tags",
                &h(&[("page", "2")]),
                &h(&[]),
                None,
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("`Version` is required")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`page` is not defined")), "{e:?}");
        let e = api
            .check(
                "POST",
                "/social-media-posting/statistics",
                &h(&[("locationId", "l")]),
                &h(&[("Version", "2021-07-28"), ("Content-Type", "application/json")]),
                Some(br#"{"profileIds":[],"platforms":["myspace"]}"#),
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("at least 1")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("myspace")), "{e:?}");
        let e = api
            .check(
                "POST",
                "/social-media-posting/l/tags/details",
                &h(&[]),
                &h(&[("Version", "2021-07-28"), ("Content-Type", "application/json")]),
                Some(br#"{"ids":["a"]}"#),
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("`tagIds` is required")), "{e:?}");
        assert!(api.check("GET", "/v1/nothing", &[], &[], None).is_err());
    }

    #[test]
    fn checks_form_bodies_and_query_types_of_the_oauth_spec() {
        let api = OpenApi::oauth();
        let form = h(&[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]);
        let m = api
            .check(
                "POST",
                "/oauth/token",
                &[],
                &form,
                Some(b"client_id=c&client_secret=s&grant_type=refresh_token&refresh_token=r%2B1&user_type=Company"),
            )
            .unwrap();
        assert_eq!(m.operation_id, "get-access-token");
        let e = api
            .check(
                "POST",
                "/oauth/token",
                &[],
                &form,
                Some(b"client_id=c&grant_type=password&scope=x&client_id=d"),
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("`client_secret` is required")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`password` is not one of")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`scope` is not a known property")), "{e:?}");
        assert!(e.iter().any(|p| p.contains("`client_id` is given twice")), "{e:?}");
        // A JSON body where the spec takes only a form.
        let e = api
            .check(
                "POST",
                "/oauth/locationToken",
                &[],
                &h(&[("Version", "2021-07-28"), ("Content-Type", "application/json")]),
                Some(br#"{"companyId":"c","locationId":"l"}"#),
            )
            .unwrap_err();
        assert!(
            e.iter()
                .any(|p| p.contains("must be application/x-www-form-urlencoded")),
            "{e:?}"
        );
        let e = api
            .check(
                "GET",
                "/oauth/installedLocations",
                &h(&[("companyId", "c"), ("appId", "a"), ("isInstalled", "yes")]),
                &h(&[("Version", "2021-07-28")]),
                None,
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("`yes` is not a boolean")), "{e:?}");
    }

    #[test]
    fn checks_answers_against_the_declared_schemas() {
        let api = OpenApi::oauth();
        let ok = br#"{"locations":[{"_id":"l","name":"n","address":"a","isInstalled":true}],"count":1}"#;
        api.check_response("GET", "/oauth/installedLocations", 200, ok).unwrap();
        let e = api
            .check_response(
                "GET",
                "/oauth/installedLocations",
                200,
                br#"{"locations":[{"_id":"l"}]}"#,
            )
            .unwrap_err();
        assert!(e.iter().any(|p| p.contains("`name` is required")), "{e:?}");
        assert!(api.check_response("GET", "/oauth/installedLocations", 418, ok).is_err());
    }
}
