//! Transform steps of the field mapping table.

/// One step applied, in order, to a mapped text value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    Trim,
    Lowercase,
    Uppercase,
    Slugify,
    Prefix(String),
    Suffix(String),
    Replace { from: String, to: String },
    Truncate(u32),
    Default(String),
}

impl Transform {
    /// The step's name as written in a config file.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Trim => "trim",
            Transform::Lowercase => "lowercase",
            Transform::Uppercase => "uppercase",
            Transform::Slugify => "slugify",
            Transform::Prefix(_) => "prefix",
            Transform::Suffix(_) => "suffix",
            Transform::Replace { .. } => "replace",
            Transform::Truncate(_) => "truncate",
            Transform::Default(_) => "default",
        }
    }

    /// Why this step can never work, if so.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Transform::Replace { from, .. } if from.is_empty() => Err("replace needs a non-empty `from`".into()),
            Transform::Truncate(0) => Err("truncate needs a length of at least 1".into()),
            _ => Ok(()),
        }
    }

    /// Applies the step; `None` is a missing value, which only `default` fills.
    pub fn apply(&self, value: Option<String>) -> Option<String> {
        match self {
            Transform::Default(d) => match value {
                Some(v) if !v.is_empty() => Some(v),
                _ => Some(d.clone()),
            },
            _ => value.map(|v| self.apply_text(v)),
        }
    }

    fn apply_text(&self, v: String) -> String {
        match self {
            Transform::Trim => match v.trim() {
                trimmed if trimmed.len() == v.len() => v,
                trimmed => trimmed.to_string(),
            },
            Transform::Lowercase => v.to_lowercase(),
            Transform::Uppercase => v.to_uppercase(),
            Transform::Slugify => slugify(&v),
            Transform::Prefix(p) => format!("{p}{v}"),
            Transform::Suffix(s) => format!("{v}{s}"),
            Transform::Replace { from, to } => v.replace(from.as_str(), to),
            Transform::Truncate(n) => v.chars().take(*n as usize).collect(),
            Transform::Default(_) => v,
        }
    }
}

/// Lower-cased letters and digits, every other run of characters one `-`,
/// no `-` at either end: `"  Summer Sale 2024!"` -> `"summer-sale-2024"`.
pub fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        } else {
            dash = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: Transform, v: &str) -> Option<String> {
        t.apply(Some(v.to_string()))
    }

    #[test]
    fn trim_is_str_trim() {
        let cases = [
            "",
            " ",
            "a",
            " a ",
            "\t\n a b \r\x0b\x0c",
            "\u{a0}a\u{a0}",
            " \u{2003}x\u{3000} ",
            "\u{85}",
            "é ",
            " é",
            "a\u{200b}",
            "\u{1680} \u{a0}",
            "x\u{a0} ",
            "\u{feff}y",
        ];
        for c in cases {
            assert_eq!(run(Transform::Trim, c), Some(c.trim().to_string()), "{c:?}");
        }
        assert_eq!(run(Transform::Truncate(3), "abc"), Some("abc".into()));
        assert_eq!(run(Transform::Truncate(3), "éé"), Some("éé".into()));
        assert_eq!(run(Transform::Truncate(2), "ééé"), Some("éé".into()));
    }

    #[test]
    fn each_transform() {
        assert_eq!(run(Transform::Trim, "  a b "), Some("a b".into()));
        assert_eq!(run(Transform::Lowercase, "AbC"), Some("abc".into()));
        assert_eq!(run(Transform::Uppercase, "AbC"), Some("ABC".into()));
        assert_eq!(
            run(Transform::Slugify, "  Summer Sale 2024!"),
            Some("summer-sale-2024".into())
        );
        assert_eq!(run(Transform::Slugify, "--Été__à  Paris--"), Some("été-à-paris".into()));
        assert_eq!(run(Transform::Prefix("ghl-".into()), "x"), Some("ghl-x".into()));
        assert_eq!(run(Transform::Suffix("!".into()), "x"), Some("x!".into()));
        let r = Transform::Replace {
            from: "_".into(),
            to: " ".into(),
        };
        assert_eq!(run(r, "a_b_c"), Some("a b c".into()));
        assert_eq!(run(Transform::Truncate(3), "héllo"), Some("hél".into()));
        assert_eq!(run(Transform::Truncate(5), "héllo"), Some("héllo".into()));
        assert_eq!(run(Transform::Truncate(9), "hé"), Some("hé".into()));
        assert_eq!(run(Transform::Trim, "as is"), Some("as is".into()));
        assert_eq!(run(Transform::Trim, "\u{a0}nbsp\t"), Some("nbsp".into()));
        assert_eq!(run(Transform::Default("none".into()), ""), Some("none".into()));
        assert_eq!(Transform::Default("none".into()).apply(None), Some("none".into()));
        assert_eq!(run(Transform::Default("none".into()), "x"), Some("x".into()));
        assert_eq!(Transform::Trim.apply(None), None);
    }

    #[test]
    fn impossible_steps_are_refused() {
        assert!(Transform::Truncate(0).check().is_err());
        assert!(Transform::Replace {
            from: String::new(),
            to: "x".into()
        }
        .check()
        .is_err());
        assert!(Transform::Trim.check().is_ok());
    }
}
