//! The metric rename table: canonical metric name -> the name in Rankr.

use super::metric::Metric;
use std::collections::BTreeMap;

/// A checked rename table.
#[derive(Debug, Clone, Default)]
pub struct MetricRenames {
    names: BTreeMap<Metric, String>,
}

impl MetricRenames {
    /// Checks `(source, target)` rows; the error names the row.
    pub fn compile(rows: &[(String, String)]) -> Result<Self, String> {
        let mut names = BTreeMap::new();
        let mut targets: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (source, target)) in rows.iter().enumerate() {
            let at = format!("metric-mapping row {} (`{source} -> {target}`)", i + 1);
            let metric = Metric::parse(source)
                .ok_or_else(|| format!("{at}: unknown metric `{source}`; the README lists the metric names"))?;
            if target.trim().is_empty() || target.chars().count() > 128 {
                return Err(format!("{at}: the new name must have 1 to 128 characters"));
            }
            if names.insert(metric, target.clone()).is_some() {
                return Err(format!("{at}: `{source}` is renamed twice"));
            }
            if let Some(prev) = targets.insert(target.clone(), i + 1) {
                return Err(format!("{at}: `{target}` is already the name given by row {prev}"));
            }
        }
        // A rename must not land on another metric's canonical name either.
        for m in Metric::ALL {
            if !names.contains_key(m) {
                if let Some(row) = targets.get(m.as_str()) {
                    return Err(format!(
                        "metric-mapping row {row}: `{}` is the name of another metric; rename that one too or pick another name",
                        m.as_str()
                    ));
                }
            }
        }
        Ok(MetricRenames { names })
    }

    /// The name written to Rankr.
    pub fn name(&self, metric: Metric) -> &str {
        self.names.get(&metric).map(String::as_str).unwrap_or(metric.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn renames_and_refusals() {
        let r = MetricRenames::compile(&[row("totals.likes", "likes_7d")]).unwrap();
        assert_eq!(r.name(Metric::TotalsLikes), "likes_7d");
        assert_eq!(r.name(Metric::TotalsPosts), "totals.posts");
        let e = MetricRenames::compile(&[row("bogus", "x")]).unwrap_err();
        assert!(e.contains("row 1") && e.contains("unknown metric"), "{e}");
        let e = MetricRenames::compile(&[row("totals.likes", "x"), row("totals.posts", "x")]).unwrap_err();
        assert!(e.contains("row 2"), "{e}");
        let e = MetricRenames::compile(&[row("totals.likes", "totals.posts")]).unwrap_err();
        assert!(e.contains("another metric"), "{e}");
        let e = MetricRenames::compile(&[row("totals.likes", " ")]).unwrap_err();
        assert!(e.contains("1 to 128"), "{e}");
    }
}
