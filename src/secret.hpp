// A value that must never be printed: bind_pw and SASL secrets.
#pragma once

#include <ostream>
#include <string>

namespace lhc {

class Secret {
  public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}
    Secret(const Secret &) = default;
    Secret &operator=(const Secret &) = default;
    ~Secret() { wipe(); }

    // The only way to the clear text; grep for it when auditing.
    const std::string &reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }
    // What logs, STATUS= and --debug show instead of the value.
    static constexpr const char *mask = "***";

    friend bool operator==(const Secret &a, const Secret &b) { return a.value_ == b.value_; }
    friend std::ostream &operator<<(std::ostream &os, const Secret &) { return os << mask; }

  private:
    void wipe() noexcept {
        volatile char *p = value_.data();
        for (std::size_t i = 0; i < value_.size(); ++i)
            p[i] = 0;
    }
    std::string value_;
};

} // namespace lhc
