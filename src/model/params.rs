//! The model's parameters, defined once: name (config key in `[model]` and
//! status key of the NEST models), unit, default, valid range and meaning.
//!
//! - [`ModelParams`] is the `[model]` section of an experiment file and what
//!   the engines get; its fields, defaults and ranges come from one list
//!   (the `model_params!` invocation below), as does [`ModelParams::table`].
//! - The NEST module takes its defaults and ranges from
//!   `cpp/seqlearn_parameters.h`, generated from the same table
//!   ([`cpp_header`]; a test fails when the checked-in file is stale,
//!   `SEQLEARN_BLESS=1` rewrites it), and a NEST test checks the models'
//!   `GetDefaults` against the table.
//! - [`table_json`] exports the table (for documentation and a Python
//!   package's docstrings).

use serde::{Deserialize, Serialize};

use crate::usage;

/// Item 4 of model.md §2: the spike law.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SpikeLaw {
    /// `p = 1 - exp(-r dt)` (the original).
    Exponential,
    /// `p = r dt` (the 2022 NEST version).
    Linear,
}

/// model.md §4: the short-term plasticity variant.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StpVariant {
    /// The original code: lagged amplitude, drifting U, dynamic inputs.
    Original,
    /// No short-term plasticity: amplitude 1.
    Off,
    /// Textbook Tsodyks-Markram: fixed U, R update with the new s, static inputs.
    TsodyksMarkram,
}

/// A parameter value in the table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Real(f64),
    Bool(bool),
    /// One of [`ParamDef::choices`].
    Name(&'static str),
}

/// Allowed values of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// Every value of the type (booleans, choices).
    Any,
    /// A finite number `> 0`.
    Positive,
    /// A finite number `>= 0`.
    NonNegative,
    /// Exactly this value (the model is defined for it only).
    Exactly(f64),
}

impl Range {
    /// Whether `v` is allowed.
    pub fn admits(self, v: f64) -> bool {
        match self {
            Range::Any => true,
            Range::Positive => v.is_finite() && v > 0.0,
            Range::NonNegative => v.is_finite() && v >= 0.0,
            Range::Exactly(x) => v == x,
        }
    }

    /// The range in words, as the error messages and the docs give it.
    pub fn describe(self) -> String {
        match self {
            Range::Any => "any".into(),
            Range::Positive => "> 0".into(),
            Range::NonNegative => ">= 0".into(),
            Range::Exactly(x) => format!("= {x}"),
        }
    }
}

/// Which NEST model has a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NestModel {
    /// `seqlearn_wta_neuron`
    Neuron,
    /// `seqlearn_stp_synapse`
    Synapse,
}

impl NestModel {
    pub fn model_name(self) -> &'static str {
        match self {
            NestModel::Neuron => "seqlearn_wta_neuron",
            NestModel::Synapse => "seqlearn_stp_synapse",
        }
    }
}

/// One row of the parameter table.
#[derive(Debug, Clone, Serialize)]
pub struct ParamDef {
    /// Key in the experiment file's `[model]` section (none: NEST only).
    pub key: Option<&'static str>,
    /// The NEST model and status key (none: not a NEST model parameter).
    pub nest: Option<(NestModel, &'static str)>,
    pub unit: &'static str,
    pub default: Value,
    pub range: Range,
    /// Allowed names of a choice parameter.
    pub choices: &'static [&'static str],
    pub doc: &'static str,
}

/// A type a parameter can have.
pub trait ParamType {
    fn value(&self) -> Value;
    /// Names of a choice type; empty for numbers and booleans.
    fn choices() -> &'static [&'static str] {
        &[]
    }
    /// The number to check against the range (numbers only).
    fn number(&self) -> Option<f64> {
        None
    }
}

impl ParamType for f64 {
    fn value(&self) -> Value {
        Value::Real(*self)
    }
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl ParamType for bool {
    fn value(&self) -> Value {
        Value::Bool(*self)
    }
}

impl SpikeLaw {
    pub const NAMES: [&'static str; 2] = ["exponential", "linear"];

    pub fn name(self) -> &'static str {
        match self {
            SpikeLaw::Exponential => "exponential",
            SpikeLaw::Linear => "linear",
        }
    }
}

impl ParamType for SpikeLaw {
    fn value(&self) -> Value {
        Value::Name(self.name())
    }
    fn choices() -> &'static [&'static str] {
        &SpikeLaw::NAMES
    }
}

impl StpVariant {
    pub const NAMES: [&'static str; 3] = ["original", "off", "tsodyks_markram"];

    pub fn name(self) -> &'static str {
        match self {
            StpVariant::Original => "original",
            StpVariant::Off => "off",
            StpVariant::TsodyksMarkram => "tsodyks_markram",
        }
    }
}

impl ParamType for StpVariant {
    fn value(&self) -> Value {
        Value::Name(self.name())
    }
    fn choices() -> &'static [&'static str] {
        &StpVariant::NAMES
    }
}

/// Declares [`ModelParams`] (fields, defaults) and its table from one list.
macro_rules! model_params {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $default:expr,
            unit $unit:literal, range $range:expr, nest $nest:expr;
    )*) => {
        /// The `[model]` section of an experiment file: the model constants
        /// both engines get (defaults: the paper's setup, model.md).
        #[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields, default)]
        pub struct ModelParams {
            $( $(#[doc = $doc])+ pub $field: $ty, )*
        }

        impl Default for ModelParams {
            fn default() -> Self {
                ModelParams { $( $field: $default, )* }
            }
        }

        impl ModelParams {
            /// One row per field, with the field's default.
            pub fn table() -> Vec<ParamDef> {
                let d = ModelParams::default();
                vec![$(
                    ParamDef {
                        key: Some(stringify!($field)),
                        nest: $nest,
                        unit: $unit,
                        default: d.$field.value(),
                        range: $range,
                        choices: <$ty as ParamType>::choices(),
                        doc: concat!($($doc),+).trim_ascii(),
                    },
                )*]
            }

            /// Checks every field against its range; the message names the
            /// key, the value and the allowed range.
            pub fn validate(&self) -> anyhow::Result<()> {
                $(
                    if let Some(v) = self.$field.number() {
                        let range: Range = $range;
                        if !range.admits(v) {
                            return Err(usage!(
                                "config key `model.{}`: must be {}{}, got {v}",
                                stringify!($field),
                                range.describe(),
                                unit_suffix($unit),
                            ));
                        }
                    }
                )*
                Ok(())
            }
        }
    };
}

fn unit_suffix(unit: &str) -> String {
    if unit.is_empty() {
        String::new()
    } else {
        format!(" ({unit})")
    }
}

use NestModel::{Neuron, Synapse};

model_params! {
    /// Simulation step. The model is defined for 1 ms (NEST: the kernel's
    /// resolution).
    dt_ms: f64 = 1.0, unit "ms", range Range::Exactly(1.0), nest None;
    /// Maximal firing rate of a circuit: the rates of its neurons sum to it.
    r_max_hz: f64 = 100.0, unit "Hz", range Range::Positive, nest Some((Neuron, "r_max"));
    /// Decay time constant of the EPSP trace `e` and of the readout trace.
    tau_decay_ms: f64 = 20.0, unit "ms", range Range::Positive, nest Some((Neuron, "tau_decay"));
    /// Rise time constant of the EPSP trace `f`.
    tau_rise_ms: f64 = 2.0, unit "ms", range Range::Positive, nest Some((Neuron, "tau_rise"));
    /// Base learning rate of STDP (and of the bias).
    eta: f64 = 0.05, unit "", range Range::Positive, nest Some((Neuron, "eta"));
    /// Adaptive learning rates `eta (Q - S^2) / (exp(-S) + 1)`; off: `eta / n`.
    variance_tracking: bool = true, unit "", range Range::Any, nest Some((Neuron, "variance_tracking"));
    /// Learn the biases (priors) at every training step; off in the paper.
    bias_learning: bool = false, unit "", range Range::Any, nest Some((Neuron, "bias_learning"));
    /// Spike probability per step: `exponential` (`1 - exp(-r dt)`) or
    /// `linear` (`r dt`, the 2022 NEST version).
    spike_law: SpikeLaw = SpikeLaw::Exponential, unit "", range Range::Any, nest Some((Neuron, "spike_law"));
    /// Short-term plasticity: `original` (lagged amplitude, drifting U,
    /// dynamic inputs), `off` or `tsodyks_markram` (textbook, static inputs).
    stp: StpVariant = StpVariant::Original, unit "", range Range::Any, nest Some((Synapse, "stp_variant"));
    /// Reset traces and STP state at the start of test phases (the original).
    reset_at_test: bool = true, unit "", range Range::Any, nest None;
    /// Learn the input synapses.
    learn_input: bool = true, unit "", range Range::Any, nest None;
    /// Learn the recurrent synapses.
    learn_recurrent: bool = true, unit "", range Range::Any, nest None;
}

impl ModelParams {
    /// `dt / tau_decay`.
    pub fn kd(&self) -> f64 {
        self.dt_ms / self.tau_decay_ms
    }

    /// `dt / tau_rise`.
    pub fn kr(&self) -> f64 {
        self.dt_ms / self.tau_rise_ms
    }
}

/// Utilisation `U` of a recurrent source: the mean of its draw
/// `N(0.5, 0.25^2)` (model.md §4) and the synapse model's default.
pub const STP_U: f64 = 0.5;
/// Depression time constant `D` (ms): the mean of its draw `N(110, 55^2)`.
pub const STP_D_MS: f64 = 110.0;
/// Facilitation time constant `F` (ms): the mean of its draw `N(5, 2.5^2)`.
pub const STP_F_MS: f64 = 5.0;

/// Parameters of the NEST models that are not in `[model]`.
pub fn nest_only() -> Vec<ParamDef> {
    let row = |model, key, unit, default, range, doc| ParamDef {
        key: None,
        nest: Some((model, key)),
        unit,
        default,
        range,
        choices: &[],
        doc,
    };
    vec![
        row(
            Neuron,
            "learning",
            "",
            Value::Bool(false),
            Range::Any,
            "STDP (and bias learning) on; the drivers set it per phase",
        ),
        row(
            Neuron,
            "vp_draws",
            "",
            Value::Bool(false),
            Range::Any,
            "spike draws from NEST's per-VP generator (depends on the VP count) instead of the \
             neuron's own stream (rng_seed, node id); for comparisons with models that use it",
        ),
        row(
            Synapse,
            "U",
            "",
            Value::Real(STP_U),
            Range::NonNegative,
            "utilisation U (the mean of the recurrent sources' draw); setting U alone also sets s = U",
        ),
        row(
            Synapse,
            "D",
            "ms",
            Value::Real(STP_D_MS),
            Range::NonNegative,
            "depression (recovery) time constant (the mean of the draw)",
        ),
        row(
            Synapse,
            "F",
            "ms",
            Value::Real(STP_F_MS),
            Range::NonNegative,
            "facilitation time constant (the mean of the draw)",
        ),
        row(
            Synapse,
            "weight",
            "",
            Value::Real(1.0),
            Range::Any,
            "multiplies the amplitude A = R s; keep 1 (the weights live at the neuron)",
        ),
    ]
}

/// Every parameter: `[model]` first, then the NEST-only ones.
pub fn table() -> Vec<ParamDef> {
    let mut t = ModelParams::table();
    t.extend(nest_only());
    t
}

/// The table as JSON (one object per parameter).
pub fn table_json() -> String {
    serde_json::to_string_pretty(&table()).expect("the parameter table serialises")
}

/// `cpp/seqlearn_parameters.h`, generated from the table.
pub fn cpp_header() -> String {
    let rows: String = table()
        .iter()
        .filter_map(|p| p.nest.map(|(model, key)| (model, key, p)))
        .map(|(model, key, p)| {
            let shown = match p.default {
                Value::Real(x) => format!("{x}"),
                Value::Bool(b) => b.to_string(),
                Value::Name(n) => format!("\"{n}\""),
            };
            let range = if p.choices.is_empty() {
                p.range.describe()
            } else {
                p.choices.join(" | ")
            };
            format!(
                " *  {:<8} {:<18} {:<4} {:<14} {:<24} {}\n *           {}\n",
                cpp_namespace(model),
                key,
                if p.unit.is_empty() { "-" } else { p.unit },
                shown,
                p.key.map_or("-".to_string(), |k| format!("model.{k}")),
                range,
                p.doc
            )
        })
        .collect();
    let defs: String = [NestModel::Neuron, NestModel::Synapse]
        .iter()
        .map(|&m| {
            let body: String = table()
                .iter()
                .filter_map(|p| {
                    p.nest
                        .filter(|n| n.0 == m)
                        .map(|(_, key)| cpp_definition(key, p))
                })
                .collect();
            format!(
                "//! {}\nnamespace {}\n{{\n{body}}}  // namespace {}\n\n",
                m.model_name(),
                cpp_namespace(m),
                cpp_namespace(m)
            )
        })
        .collect();
    format!(
        "/*
 *  seqlearn_parameters.h
 *
 *  GENERATED from the model's parameter table (src/model/params.rs) -- do not
 *  edit.  `SEQLEARN_BLESS=1 cargo test --lib params` rewrites it; the test
 *  fails when it is stale.
 *
 *  Defaults and allowed values of the parameters of seqlearn_wta_neuron
 *  (neuron) and seqlearn_stp_synapse (synapse), with the experiment file's
 *  key of the same parameter.  The index of a choice in its *_names list is
 *  the value of the enum of cpp/kernels/seqlearn_kernels.h.
 *
 *  model    status key         unit default        config key               allowed
 *           meaning
{rows} */

#ifndef SEQLEARN_PARAMETERS_H
#define SEQLEARN_PARAMETERS_H

#include <cstddef>
#include <limits>

namespace seqlearn
{{
namespace parameters
{{

//! The allowed values of a number: finite and above lo (lo_open) or from lo.
struct Range
{{
  double lo;
  bool lo_open;
  const char* text;
}};

{defs}}}  // namespace parameters
}}  // namespace seqlearn

#endif
"
    )
}

fn cpp_namespace(m: NestModel) -> &'static str {
    match m {
        NestModel::Neuron => "neuron",
        NestModel::Synapse => "synapse",
    }
}

/// The C++ constants of one parameter: its default, and its range or its
/// choices.
fn cpp_definition(key: &str, p: &ParamDef) -> String {
    let unit = unit_suffix(p.unit);
    match p.default {
        Value::Real(x) => {
            let (lo, open) = match p.range {
                Range::Positive => ("0.0", "true"),
                Range::NonNegative => ("0.0", "false"),
                Range::Any => ("-std::numeric_limits< double >::infinity()", "true"),
                Range::Exactly(_) => unreachable!("no NEST parameter has a fixed value"),
            };
            format!(
                "//! {}{unit}\nconstexpr double {key} = {};\nconstexpr Range {key}_range = {{ {lo}, {open}, \"{}\" }};\n",
                p.doc,
                cpp_double(x),
                p.range.describe()
            )
        }
        Value::Bool(b) => format!("//! {}\nconstexpr bool {key} = {b};\n", p.doc),
        Value::Name(n) => {
            let names: Vec<String> = p.choices.iter().map(|c| format!("\"{c}\"")).collect();
            format!(
                "//! {}\nconstexpr const char* {key} = \"{n}\";\nconstexpr const char* {key}_names[] = {{ {} }};\nconstexpr std::size_t {key}_count = {};\n",
                p.doc,
                names.join(", "),
                p.choices.len()
            )
        }
    }
}

/// A C++ literal that reads back as the same double.
fn cpp_double(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper_setup_and_valid() {
        let d = ModelParams::default();
        assert_eq!(
            (d.tau_decay_ms, d.tau_rise_ms, d.r_max_hz, d.eta),
            (20.0, 2.0, 100.0, 0.05)
        );
        assert_eq!(d.stp, StpVariant::Original);
        assert!(d.variance_tracking && !d.bias_learning);
        d.validate().unwrap();
        assert_eq!((d.kd(), d.kr()), (1.0 / 20.0, 0.5));
    }

    #[test]
    fn an_empty_model_section_is_the_default_and_every_field_is_in_the_table() {
        let p: ModelParams = toml::from_str("").unwrap();
        assert_eq!(p, ModelParams::default());
        // every serialised field is one row, with the same default
        let v = toml::Value::try_from(ModelParams::default()).unwrap();
        let fields = v.as_table().unwrap();
        let rows = ModelParams::table();
        assert_eq!(fields.len(), rows.len());
        for r in &rows {
            let key = r.key.unwrap();
            let f = &fields[key];
            match r.default {
                Value::Real(x) => assert_eq!(f.as_float(), Some(x), "{key}"),
                Value::Bool(b) => assert_eq!(f.as_bool(), Some(b), "{key}"),
                Value::Name(n) => {
                    assert_eq!(f.as_str(), Some(n), "{key}");
                    assert!(r.choices.contains(&n), "{key}");
                }
            }
            assert!(!r.doc.is_empty(), "{key} has no doc");
        }
    }

    #[test]
    fn validation_names_key_value_and_range() {
        for (toml, key, range) in [
            ("tau_decay_ms = -1.0", "model.tau_decay_ms", "> 0 (ms)"),
            ("eta = 0.0", "model.eta", "> 0"),
            ("r_max_hz = inf", "model.r_max_hz", "> 0 (Hz)"),
            ("dt_ms = 0.5", "model.dt_ms", "= 1 (ms)"),
        ] {
            let p: ModelParams = toml::from_str(toml).unwrap();
            let err = p.validate().unwrap_err();
            assert!(crate::error::is_usage(&err));
            let msg = format!("{err:#}");
            assert!(msg.contains(key) && msg.contains(range), "{toml}: {msg}");
            let value = toml.split(" = ").nth(1).unwrap();
            assert!(msg.contains(&value.replace(".0", "")), "{toml}: {msg}");
        }
        let err = toml::from_str::<ModelParams>("spike_law = \"cubic\"").unwrap_err();
        assert!(err.to_string().contains("exponential"), "{err}");
    }

    /// A checked-in file generated from the table must equal `want`;
    /// `SEQLEARN_BLESS=1` rewrites it.
    fn assert_generated_file_is_current(rel: &str, want: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        if std::env::var("SEQLEARN_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run `SEQLEARN_BLESS=1 cargo test --lib params` and commit it",
            path.display()
        );
    }

    /// The checked-in C++ header is the table's.
    #[test]
    fn cpp_header_is_current() {
        assert_generated_file_is_current("cpp/seqlearn_parameters.h", &cpp_header());
    }

    /// The Python package's copy of the table (its docstrings and `help()`
    /// are generated from it).
    #[test]
    fn python_table_is_current() {
        assert_generated_file_is_current(
            "python/seqlearn_nest/_data/parameters.json",
            &(table_json() + "\n"),
        );
    }

    #[test]
    fn the_table_exports_as_json() {
        let v: serde_json::Value = serde_json::from_str(&table_json()).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), table().len());
        let tau = rows.iter().find(|r| r["key"] == "tau_decay_ms").unwrap();
        assert_eq!(tau["default"], 20.0);
        assert_eq!(tau["unit"], "ms");
        assert_eq!(tau["nest"][1], "tau_decay");
    }
}
