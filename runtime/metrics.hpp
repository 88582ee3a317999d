// The node's metrics registry and its Prometheus text exposition (format
// 0.0.4). One registry per node, shared as a std::shared_ptr; every member is
// thread-safe. docs/metrics.md lists the rules and the metrics a node exports.
//
// Two kinds of metric live here:
// - owned metrics (counter, gauge, histogram): the registry holds the value;
//   code obtains a series once (this takes a lock) and then updates it with
//   plain atomics, no lock per update;
// - callback metrics: the value lives elsewhere (a mailbox gate, the HTTP
//   server's stats) and a function reads it at scrape time.
#pragma once

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe {

/// A metric's kind, as written on its TYPE line.
enum class metric_type { counter, gauge, histogram };

/// Returns "counter", "gauge" or "histogram".
const char* to_string(metric_type x);

/// Label name/value pairs, rendered in the order given.
using metric_labels = std::vector<std::pair<std::string, std::string>>;

/// What names and describes one metric family.
struct metric_desc {
  /// Matches [a-zA-Z_:][a-zA-Z0-9_:]*. Counters end in "_total"; units go
  /// last and are base units ("_seconds", "_bytes").
  std::string name;
  /// Required, one sentence; backslashes and newlines are escaped.
  std::string help;
  /// Labels attached to every series, e.g. {{"node", "n1"}}.
  metric_labels const_labels = {};
  /// Names of the labels whose values differ per series, e.g. {"actor"}.
  /// Label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__", are
  /// not "le" (reserved for histogram buckets) and are all distinct.
  std::vector<std::string> label_names = {};
};

/// Bounds on what a registry holds.
struct metrics_limits {
  /// Families per registry; registering more fails.
  size_t max_families = 1000;
  /// Series (label value combinations) per family; further ones are
  /// refused and counted in troupe_metrics_series_dropped_total.
  size_t max_series_per_family = 1000;
};

/// A monotonic counter. Integer increments and fractional additions are
/// kept apart so that integer counts stay exact beyond 2^53.
class metric_counter {
public:
  /// Adds `n`. One relaxed atomic add.
  void inc(uint64_t n = 1) noexcept {
    whole_.fetch_add(n, std::memory_order_relaxed);
  }

  /// Adds `v`, e.g. seconds of CPU. Negative and NaN values are ignored: a
  /// counter never goes down.
  void add(double v) noexcept;

  /// The sum of every inc() and add().
  double value() const noexcept;

  uint64_t whole() const noexcept {
    return whole_.load(std::memory_order_relaxed);
  }
  double fraction() const noexcept {
    return fraction_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0};
};

/// A value that goes up and down.
class metric_gauge {
public:
  void set(double v) noexcept {
    value_.store(v, std::memory_order_relaxed);
  }
  void add(double v) noexcept {
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  void sub(double v) noexcept {
    value_.fetch_sub(v, std::memory_order_relaxed);
  }
  double value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<double> value_{0};
};

/// Cumulative bucket counts of one histogram series at one moment.
struct histogram_snapshot {
  /// counts[i]: observations <= upper_bounds[i]; the last element is the
  /// +Inf bucket and equals `count`.
  std::vector<uint64_t> cumulative_counts;
  double sum = 0;
  uint64_t count = 0;
};

/// A histogram with fixed buckets (upper bounds set at registration).
class metric_histogram {
public:
  /// `upper_bounds`: strictly increasing, finite; shared by the family.
  explicit metric_histogram(std::shared_ptr<const std::vector<double>> bounds);

  /// Counts `v` in the first bucket whose bound is >= v, and adds it to the
  /// sum. NaN is ignored. One binary search and two relaxed atomic adds.
  void observe(double v) noexcept;

  /// Buckets, sum and count. Under concurrent observe() the sum may lag
  /// the counts by the observations in flight; counts are consistent with
  /// each other (count is the +Inf bucket).
  histogram_snapshot snapshot() const;

  const std::vector<double>& upper_bounds() const noexcept {
    return *bounds_;
  }

private:
  std::shared_ptr<const std::vector<double>> bounds_;
  // Non-cumulative: buckets_[i] for bound i, buckets_[size] for +Inf.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

namespace detail {

/// What the registry renders; one per metric name.
class family_base {
public:
  family_base(metric_desc desc, metric_type type) :
    desc_(std::move(desc)), type_(type) {}
  virtual ~family_base() = default;

  const metric_desc& desc() const noexcept {
    return desc_;
  }
  metric_type type() const noexcept {
    return type_;
  }

  /// Appends this family's sample lines (not HELP/TYPE) to `out`.
  virtual void render_samples(std::string& out) const = 0;

private:
  metric_desc desc_;
  metric_type type_;
};

} // namespace detail

/// The series of one owned metric, one per combination of label values.
/// `Series` is metric_counter, metric_gauge or metric_histogram.
template <class Series>
class metric_family final : public detail::family_base {
public:
  using factory = std::function<std::unique_ptr<Series>()>;

  metric_family(metric_desc desc, metric_type type, size_t max_series,
                factory make, metric_counter* dropped);

  /// Returns the series with these label values (one per label name, in
  /// the same order), creating it on first use. Takes the family's lock:
  /// obtain a series once and keep the reference, which stays valid as
  /// long as the family does.
  ///
  /// Never fails. When the family already holds `max_series_per_family`
  /// series, or the number of values does not match the label names,
  /// returns an overflow series that is never exported, and counts the
  /// refusal in troupe_metrics_series_dropped_total{family="<name>"}.
  Series& with(const std::vector<std::string>& label_values = {});

  /// Number of exported series.
  size_t size() const;

  void render_samples(std::string& out) const override;

private:
  size_t max_series_;
  factory make_;
  metric_counter* dropped_; // may be null (the dropped counter itself)
  mutable std::mutex mtx_;
  std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
  std::unique_ptr<Series> overflow_;
};

using counter_family = metric_family<metric_counter>;
using gauge_family = metric_family<metric_gauge>;
using histogram_family = metric_family<metric_histogram>;

/// One sample returned by a callback metric.
struct metric_sample {
  /// One value per label name of the family, in the same order.
  std::vector<std::string> label_values;
  double value = 0;
};

/// Reads a callback metric's samples at scrape time. Called from the
/// scraping thread without any registry lock held; must be thread-safe,
/// fast, non-blocking, and must not throw.
using metric_callback = std::function<std::vector<metric_sample>()>;

/// The registry: metric families by name.
class metrics_registry {
public:
  /// The Content-Type of render()'s output.
  static constexpr std::string_view content_type
      = "text/plain; version=0.0.4; charset=utf-8";

  /// Also registers troupe_metrics_series_dropped_total{family}.
  explicit metrics_registry(metrics_limits limits = {});

  /// Registers an owned counter, gauge or histogram family, or returns the
  /// existing one when `desc` (and the buckets) match it exactly, so two
  /// components may share a metric.
  ///
  /// Fails with errc::invalid_argument, and registers nothing, when: a name
  /// or label name is invalid, help is empty, a counter's name does not end
  /// in "_total", the name (or a histogram's _bucket/_sum/_count name) is
  /// taken by a different metric, or `max_families` are registered.
  /// Histogram bounds must be finite and strictly increasing; a trailing
  /// +Inf is accepted and dropped (the +Inf bucket always exists).
  caf::expected<std::shared_ptr<counter_family>> counter(metric_desc desc);
  caf::expected<std::shared_ptr<gauge_family>> gauge(metric_desc desc);
  caf::expected<std::shared_ptr<histogram_family>>
  histogram(metric_desc desc, std::vector<double> upper_bounds);

  /// Registers a counter or gauge family whose samples `fn` returns at
  /// scrape time. Samples with the wrong number of label values, with label
  /// values already seen in the same scrape, or beyond
  /// `max_series_per_family`, are skipped and counted as dropped. Samples
  /// are rendered ordered by label values. Fails as counter()/gauge() do,
  /// and also when the name is taken at all (callbacks are not shared) or
  /// `type` is histogram.
  caf::error callback(metric_desc desc, metric_type type, metric_callback fn);

  /// Shorthand for a callback family without variable labels.
  caf::error callback_gauge(metric_desc desc, std::function<double()> fn);
  caf::error callback_counter(metric_desc desc, std::function<double()> fn);

  /// Renders every family, ordered by name, in the Prometheus text format
  /// 0.0.4: "# HELP", "# TYPE", then one line per sample.
  std::string render() const;

  const metrics_limits& limits() const noexcept {
    return limits_;
  }

private:
  caf::error check_new(const metric_desc& desc, metric_type type) const;
  std::shared_ptr<detail::family_base> find(const std::string& name) const;
  template <class Family>
  caf::expected<std::shared_ptr<Family>>
  add_owned(metric_desc desc, metric_type type, typename Family::factory make,
            const std::vector<double>* bounds);

  metrics_limits limits_;
  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<detail::family_base>> families_;
  // Histogram bounds by family name, to compare on re-registration.
  std::map<std::string, std::vector<double>> bounds_;
  std::shared_ptr<counter_family> dropped_;
};

using metrics_registry_ptr = std::shared_ptr<metrics_registry>;

// -- exposition helpers, public for tests ------------------------------------

/// Whether `name` is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_metric_name(std::string_view name);

/// Whether `name` is a valid label name: [a-zA-Z_][a-zA-Z0-9_]*, not
/// starting with "__".
bool valid_label_name(std::string_view name);

/// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

/// Formats a sample value: integers without a fraction, "NaN", "+Inf",
/// "-Inf", otherwise the shortest text that reads back as the same double.
std::string format_metric_value(double v);

} // namespace troupe
