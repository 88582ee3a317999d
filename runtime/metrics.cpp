#include "runtime/metrics.hpp"

#include "net/errors.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace troupe {

const char* to_string(metric_type x) {
  switch (x) {
  case metric_type::counter:
    return "counter";
  case metric_type::gauge:
    return "gauge";
  case metric_type::histogram:
    return "histogram";
  }
  return "untyped";
}

// -- exposition helpers -------------------------------------------------------

namespace {

bool is_alpha_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_alpha_or_underscore(name[0]) || name[0] == ':'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha_or_underscore(c) || is_digit(c) || c == ':';
  });
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha_or_underscore(name[0])
      || name.substr(0, 2) == "__")
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_alpha_or_underscore(c) || is_digit(c);
  });
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

// HELP text escapes only backslash and newline (format 0.0.4).
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

} // namespace

std::string format_metric_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  // Integers below 2^53 are exact in a double; print them without the
  // exponent that the shortest form would pick for, e.g., 1000000.
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0)
    return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

namespace {

// Renders `{a="x",b="y"}` (nothing without labels). `extra` is appended last,
// for a histogram's "le".
std::string
label_text(const metric_desc& desc, const std::vector<std::string>& values,
           const std::pair<std::string, std::string>* extra = nullptr) {
  std::string out;
  auto add = [&out](const std::string& name, std::string_view value) {
    out += out.empty() ? "{" : ",";
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  };
  for (auto& [name, value] : desc.const_labels)
    add(name, value);
  for (size_t i = 0; i < desc.label_names.size() && i < values.size(); ++i)
    add(desc.label_names[i], values[i]);
  if (extra != nullptr)
    add(extra->first, extra->second);
  if (!out.empty())
    out += '}';
  return out;
}

void append_line(std::string& out, const std::string& name,
                 const std::string& labels, const std::string& value) {
  out += name;
  out += labels;
  out += ' ';
  out += value;
  out += '\n';
}

// Counters render their integer part exactly, even beyond 2^53.
std::string format_counter(const metric_counter& c) {
  auto fraction = c.fraction();
  if (fraction == 0)
    return std::to_string(c.whole());
  return format_metric_value(static_cast<double>(c.whole()) + fraction);
}

void render_series(std::string& out, const metric_desc& desc,
                   const std::vector<std::string>& values,
                   const metric_counter& c) {
  append_line(out, desc.name, label_text(desc, values), format_counter(c));
}

void render_series(std::string& out, const metric_desc& desc,
                   const std::vector<std::string>& values,
                   const metric_gauge& g) {
  append_line(out, desc.name, label_text(desc, values),
              format_metric_value(g.value()));
}

void render_series(std::string& out, const metric_desc& desc,
                   const std::vector<std::string>& values,
                   const metric_histogram& h) {
  auto snap = h.snapshot();
  auto& bounds = h.upper_bounds();
  auto bucket_name = desc.name + "_bucket";
  for (size_t i = 0; i <= bounds.size(); ++i) {
    std::pair<std::string, std::string> le{
        "le", i < bounds.size() ? format_metric_value(bounds[i]) : "+Inf"};
    append_line(out, bucket_name, label_text(desc, values, &le),
                std::to_string(snap.cumulative_counts[i]));
  }
  auto labels = label_text(desc, values);
  append_line(out, desc.name + "_sum", labels, format_metric_value(snap.sum));
  append_line(out, desc.name + "_count", labels, std::to_string(snap.count));
}

} // namespace

// -- series -------------------------------------------------------------------

void metric_counter::add(double v) noexcept {
  if (v > 0) // false for NaN and negatives
    fraction_.fetch_add(v, std::memory_order_relaxed);
}

double metric_counter::value() const noexcept {
  return static_cast<double>(whole()) + fraction();
}

metric_histogram::metric_histogram(
    std::shared_ptr<const std::vector<double>> bounds) :
  bounds_(std::move(bounds)),
  buckets_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void metric_histogram::observe(double v) noexcept {
  if (std::isnan(v))
    return;
  auto pos = std::lower_bound(bounds_->begin(), bounds_->end(), v);
  auto index = static_cast<size_t>(pos - bounds_->begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

histogram_snapshot metric_histogram::snapshot() const {
  histogram_snapshot snap;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snap.cumulative_counts.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

// -- families -----------------------------------------------------------------

template <class Series>
metric_family<Series>::metric_family(metric_desc desc, metric_type type,
                                     size_t max_series, factory make,
                                     metric_counter* dropped) :
  family_base(std::move(desc), type),
  max_series_(max_series), make_(std::move(make)), dropped_(dropped),
  overflow_(make_()) {}

template <class Series>
Series& metric_family<Series>::with(const std::vector<std::string>& values) {
  std::lock_guard guard{mtx_};
  if (auto i = series_.find(values); i != series_.end())
    return *i->second;
  if (values.size() != desc().label_names.size()
      || series_.size() >= max_series_) {
    if (dropped_ != nullptr)
      dropped_->inc();
    return *overflow_;
  }
  auto& slot = series_[values];
  slot = make_();
  return *slot;
}

template <class Series>
size_t metric_family<Series>::size() const {
  std::lock_guard guard{mtx_};
  return series_.size();
}

template <class Series>
void metric_family<Series>::render_samples(std::string& out) const {
  std::lock_guard guard{mtx_};
  for (auto& [values, series] : series_)
    render_series(out, desc(), values, *series);
}

template class metric_family<metric_counter>;
template class metric_family<metric_gauge>;
template class metric_family<metric_histogram>;

namespace {

class callback_family final : public detail::family_base {
public:
  callback_family(metric_desc desc, metric_type type, size_t max_series,
                  metric_callback fn, metric_counter* dropped) :
    family_base(std::move(desc), type),
    max_series_(max_series), fn_(std::move(fn)), dropped_(dropped) {}

  void render_samples(std::string& out) const override {
    auto samples = fn_();
    std::stable_sort(samples.begin(), samples.end(),
                     [](const metric_sample& x, const metric_sample& y) {
                       return x.label_values < y.label_values;
                     });
    size_t rendered = 0;
    const std::vector<std::string>* previous = nullptr;
    for (auto& s : samples) {
      if (!accept(s, previous, rendered))
        continue;
      previous = &s.label_values;
      ++rendered;
      append_line(out, desc().name, label_text(desc(), s.label_values),
                  format_metric_value(s.value));
    }
  }

private:
  // Skips (and counts) samples that would make an invalid or unbounded
  // exposition: wrong arity, duplicate label values, over the limit.
  bool accept(const metric_sample& s, const std::vector<std::string>* previous,
              size_t rendered) const {
    bool ok = s.label_values.size() == desc().label_names.size()
              && (previous == nullptr || *previous != s.label_values)
              && rendered < max_series_;
    if (!ok)
      dropped_->inc();
    return ok;
  }

  size_t max_series_;
  metric_callback fn_;
  metric_counter* dropped_;
};

caf::error invalid(std::string what) {
  return make_error(errc::invalid_argument, std::move(what));
}

caf::error check_desc(const metric_desc& desc, metric_type type) {
  if (!valid_metric_name(desc.name))
    return invalid("invalid metric name \"" + desc.name
                   + "\": use [a-zA-Z_:][a-zA-Z0-9_:]*");
  if (desc.help.empty())
    return invalid("metric " + desc.name + " has no help text");
  if (type == metric_type::counter
      && !(desc.name.size() > 6
           && desc.name.compare(desc.name.size() - 6, 6, "_total") == 0))
    return invalid("counter " + desc.name + " must end in _total");
  std::set<std::string> seen;
  auto check_label = [&](const std::string& label) -> caf::error {
    if (!valid_label_name(label) || label == "le")
      return invalid("invalid label name \"" + label + "\" on " + desc.name);
    if (!seen.insert(label).second)
      return invalid("label " + label + " repeated on " + desc.name);
    return {};
  };
  for (auto& [label, value] : desc.const_labels)
    if (auto err = check_label(label))
      return err;
  for (auto& label : desc.label_names)
    if (auto err = check_label(label))
      return err;
  return {};
}

caf::error check_bounds(std::vector<double>& bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0)
    bounds.pop_back();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]))
      return invalid("histogram bucket bounds must be finite");
    if (i > 0 && !(bounds[i - 1] < bounds[i]))
      return invalid("histogram bucket bounds must increase strictly");
  }
  return {};
}

// The names a family of `type` occupies in the exposition.
std::vector<std::string> exposed_names(const std::string& name,
                                       metric_type type) {
  if (type != metric_type::histogram)
    return {name};
  return {name, name + "_bucket", name + "_sum", name + "_count"};
}

bool same_desc(const metric_desc& x, const metric_desc& y) {
  return x.name == y.name && x.help == y.help
         && x.const_labels == y.const_labels && x.label_names == y.label_names;
}

} // namespace

// -- registry -----------------------------------------------------------------

metrics_registry::metrics_registry(metrics_limits limits) : limits_(limits) {
  metric_desc desc{"troupe_metrics_series_dropped_total",
                   "Metric series refused because their family was full or "
                   "their labels were wrong.",
                   {},
                   {"family"}};
  dropped_ = std::make_shared<counter_family>(
      std::move(desc), metric_type::counter, limits_.max_series_per_family,
      [] { return std::make_unique<metric_counter>(); }, nullptr);
  families_.emplace(dropped_->desc().name, dropped_);
}

std::shared_ptr<detail::family_base>
metrics_registry::find(const std::string& name) const {
  auto i = families_.find(name);
  return i == families_.end() ? nullptr : i->second;
}

// Requires mtx_. Checks that a new family may take `desc.name`.
caf::error metrics_registry::check_new(const metric_desc& desc,
                                       metric_type type) const {
  if (families_.size() >= limits_.max_families)
    return invalid("cannot register " + desc.name + ": the registry holds "
                   + std::to_string(limits_.max_families) + " families");
  for (auto& name : exposed_names(desc.name, type))
    for (auto& [other_name, other] : families_)
      for (auto& taken : exposed_names(other_name, other->type()))
        if (name == taken)
          return invalid("metric name " + name + " is taken by "
                         + std::string{to_string(other->type())} + " "
                         + other_name);
  return {};
}

template <class Family>
caf::expected<std::shared_ptr<Family>>
metrics_registry::add_owned(metric_desc desc, metric_type type,
                            typename Family::factory make,
                            const std::vector<double>* bounds) {
  if (auto err = check_desc(desc, type))
    return err;
  std::lock_guard guard{mtx_};
  if (auto existing = find(desc.name)) {
    auto same = existing->type() == type && same_desc(existing->desc(), desc)
                && (bounds == nullptr || bounds_[desc.name] == *bounds);
    auto typed = std::dynamic_pointer_cast<Family>(existing);
    if (same && typed)
      return typed;
    return invalid("metric " + desc.name + " is already registered as a "
                   + std::string{to_string(existing->type())}
                   + " with other labels, help or buckets");
  }
  if (auto err = check_new(desc, type))
    return err;
  auto name = desc.name;
  auto* dropped = &dropped_->with({name});
  auto family = std::make_shared<Family>(std::move(desc), type,
                                         limits_.max_series_per_family,
                                         std::move(make), dropped);
  families_.emplace(name, family);
  if (bounds != nullptr)
    bounds_.emplace(name, *bounds);
  return family;
}

caf::expected<std::shared_ptr<counter_family>>
metrics_registry::counter(metric_desc desc) {
  return add_owned<counter_family>(
      std::move(desc), metric_type::counter,
      [] { return std::make_unique<metric_counter>(); }, nullptr);
}

caf::expected<std::shared_ptr<gauge_family>>
metrics_registry::gauge(metric_desc desc) {
  return add_owned<gauge_family>(
      std::move(desc), metric_type::gauge,
      [] { return std::make_unique<metric_gauge>(); }, nullptr);
}

caf::expected<std::shared_ptr<histogram_family>>
metrics_registry::histogram(metric_desc desc,
                            std::vector<double> upper_bounds) {
  if (auto err = check_bounds(upper_bounds))
    return err;
  auto shared = std::make_shared<const std::vector<double>>(upper_bounds);
  return add_owned<histogram_family>(
      std::move(desc), metric_type::histogram,
      [shared] { return std::make_unique<metric_histogram>(shared); },
      &upper_bounds);
}

caf::error metrics_registry::callback(metric_desc desc, metric_type type,
                                      metric_callback fn) {
  if (type == metric_type::histogram)
    return invalid("callback metric " + desc.name + " cannot be a histogram");
  if (!fn)
    return invalid("callback metric " + desc.name + " has no function");
  if (auto err = check_desc(desc, type))
    return err;
  std::lock_guard guard{mtx_};
  if (auto err = check_new(desc, type))
    return err;
  auto name = desc.name;
  auto* dropped = &dropped_->with({name});
  families_.emplace(
      name, std::make_shared<callback_family>(std::move(desc), type,
                                              limits_.max_series_per_family,
                                              std::move(fn), dropped));
  return {};
}

namespace {

metric_callback single_sample(std::function<double()> fn) {
  if (!fn)
    return nullptr;
  return [fn = std::move(fn)] {
    return std::vector<metric_sample>{metric_sample{{}, fn()}};
  };
}

} // namespace

caf::error metrics_registry::callback_gauge(metric_desc desc,
                                            std::function<double()> fn) {
  return callback(std::move(desc), metric_type::gauge,
                  single_sample(std::move(fn)));
}

caf::error metrics_registry::callback_counter(metric_desc desc,
                                              std::function<double()> fn) {
  return callback(std::move(desc), metric_type::counter,
                  single_sample(std::move(fn)));
}

std::string metrics_registry::render() const {
  // Copy the family list so that callbacks run without the registry lock:
  // a slow callback does not block registration, and a callback may itself
  // use the registry.
  std::vector<std::shared_ptr<detail::family_base>> families;
  {
    std::lock_guard guard{mtx_};
    for (auto& [name, family] : families_)
      families.push_back(family);
  }
  std::string out;
  for (auto& family : families) {
    auto& desc = family->desc();
    out += "# HELP " + desc.name + " " + escape_help(desc.help) + "\n";
    out += "# TYPE " + desc.name + " " + to_string(family->type()) + "\n";
    family->render_samples(out);
  }
  return out;
}

} // namespace troupe
