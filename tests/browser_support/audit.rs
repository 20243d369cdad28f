//! Accessibility audits with axe-core, run inside the page by WebDriver, and the colour scheme
//! the page is shown in (emulated through chromedriver's DevTools bridge).
//!
//! axe-core is vendored (tests/browser_support/axe/, MPL-2.0, from the npm package `axe-core`
//! 4.14.1; sha256 of axe.min.js in the README there) so the audit needs no network. The pages
//! carry no script; only axe runs, injected by the test.

use serde_json::{json, Value};

use super::Driver;

const AXE: &str = include_str!("axe/axe.min.js");

/// The axe tags audited: every WCAG 2.x success criterion at A, AA and AAA, plus Deque's best
/// practices.
pub const AXE_TAGS: [&str; 10] = [
    "wcag2a",
    "wcag2aa",
    "wcag2aaa",
    "wcag21a",
    "wcag21aa",
    "wcag21aaa",
    "wcag22a",
    "wcag22aa",
    "wcag22aaa",
    "best-practice",
];

/// What one axe run found.
pub struct AxeReport {
    /// (rule, impact, one line per failing element).
    pub violations: Vec<(String, String, Vec<String>)>,
    /// Rules axe could not decide (it asks a person to look).
    pub incomplete: Vec<String>,
    /// Every rule that ran (passed, failed, undecided or found nothing to check).
    pub ran: Vec<String>,
}

impl Driver {
    /// Run a script in the page; returns its value.
    pub fn execute(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// `light` or `dark`, as `prefers-color-scheme` reports it to the page's CSS.
    pub fn emulate_color_scheme(&self, scheme: &str) {
        self.call(
            "POST",
            &self.s("/goog/cdp/execute"),
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] }
            })),
        );
    }

    /// A computed CSS value of an element.
    pub fn css(&self, element: &str, property: &str) -> String {
        self.call(
            "GET",
            &self.s(&format!("/element/{element}/css/{property}")),
            None,
        )
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Every axe rule tagged with one of `AXE_TAGS` (also those axe leaves off by default, such
    /// as the AAA contrast rule), on the current page.
    pub fn axe(&self) -> AxeReport {
        if self.execute("return typeof window.axe") != "object" {
            self.execute(&format!("{AXE}\n;return typeof window.axe"));
        }
        let tags = serde_json::to_string(&AXE_TAGS).unwrap();
        let script = format!(
            r#"const done = arguments[arguments.length - 1];
const rules = axe.getRules({tags}).map(r => r.ruleId);
axe.run(document, {{ runOnly: {{ type: "rule", values: rules }} }})
  .then(r => done(JSON.stringify({{
    violations: r.violations.map(v => [v.id, v.impact || "", v.nodes.map(n =>
      n.target.join(" ") + " :: " + (n.failureSummary || "").replace(/\s+/g, " "))]),
    incomplete: r.incomplete.map(v => v.id),
    ran: [].concat(r.violations, r.passes, r.incomplete, r.inapplicable).map(v => v.id),
  }})))
  .catch(e => done(JSON.stringify({{ error: String(e) }})));"#
        );
        let answer = self.call(
            "POST",
            &self.s("/execute/async"),
            Some(json!({ "script": script, "args": [] })),
        );
        let report: Value = serde_json::from_str(answer.as_str().expect("axe's JSON")).unwrap();
        assert!(report.get("error").is_none(), "axe failed: {report}");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        AxeReport {
            violations: report["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v[0].as_str().unwrap().to_owned(),
                        v[1].as_str().unwrap().to_owned(),
                        strings(&v[2]),
                    )
                })
                .collect(),
            incomplete: strings(&report["incomplete"]),
            ran: strings(&report["ran"]),
        }
    }
}
