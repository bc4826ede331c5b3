#include "result_values.hpp"

#include "ldap_table.hpp"
#include "query_expand.hpp"

#include <algorithm>
#include <ldap.h>
#include <memory>

namespace lhc {

namespace {

std::vector<std::string> split_list(const std::string &s) {
    std::vector<std::string> out;
    const char *separators = ", \t\r\n";
    std::string::size_type pos = 0;
    while ((pos = s.find_first_not_of(separators, pos)) != std::string::npos) {
        auto end = s.find_first_of(separators, pos);
        out.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// attrdesc_subtype(): 1 when `a2` is `a1` or a subtype of it (a1 plus ";options"), -1 when
// `a1` is a subtype of `a2`, 0 for distinct attributes. Case-insensitive (RFC 4512).
int attrdesc_subtype(std::string_view a1, std::string_view a2) {
    std::size_t i = 0;
    while (i < a1.size() && i < a2.size() && lower(a1[i]) == lower(a2[i]))
        ++i;
    if (i == a1.size() && (i == a2.size() || a2[i] == ';'))
        return 1;
    if (i == a2.size() && i < a1.size() && a1[i] == ';')
        return -1;
    return 0;
}

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

// ldap_get_values_len() of one attribute of an entry: nullptr when the entry has none.
const std::vector<std::string> *values_of(const ResultEntry &e, std::string_view attr) {
    for (const auto &[name, values] : e.attributes)
        if (same_name(name, attr))
            return &values;
    return nullptr;
}

// dict_ldap_get_values() and its recursion, with Postfix's counters and flags.
class Walk {
  public:
    Walk(const LdapTable &t, std::string_view key, FollowUpSearches &follow)
        : t_(t), key_(key), follow_(follow), attrs_(postfix_result_attributes(t)) {
        num_terminal_ = split_list(t.terminal_result_attribute).size();
        num_leaf_ = split_list(t.leaf_result_attribute).size();
        num_attributes_ = num_terminal_ + num_leaf_ + split_list(t.result_attribute).size();
    }

    LookupValue run(const SearchAnswer &top) {
        get_values(top);
        if (out_.failed)
            out_.value.clear();
        return out_;
    }

  private:
    void fail(int rc, std::string why) {
        if (out_.failed)
            return;
        out_.failed = true;
        out_.rc = rc;
        out_.why = std::move(why);
    }

    void get_values(const SearchAnswer &res) {
        ++recursion_;
        long entries = 0;
        // As in Postfix, both flags carry over from one entry to the next unless recomputed.
        bool is_leaf = true;
        bool is_terminal = false;
        for (const auto &entry : res.entries) {
            if (!out_.failed && t_.size_limit && ++entries > t_.size_limit)
                fail(LDAP_SIZELIMIT_EXCEEDED,
                     "size_limit (" + std::to_string(t_.size_limit) + ") exceeded");
            for (std::size_t i = 0; i < num_terminal_; ++i) {
                const auto *vals = values_of(entry, attrs_[i]);
                if (!vals)
                    continue;
                is_terminal = !vals->empty();
                if (is_terminal)
                    break;
            }
            if (!is_terminal && num_leaf_ > 0) {
                for (std::size_t i = num_attributes_; i < attrs_.size(); ++i) {
                    const auto *vals = values_of(entry, attrs_[i]);
                    if (!vals)
                        continue;
                    is_leaf = vals->empty();
                    if (!is_leaf)
                        break;
                }
            }
            for (const auto &[attr, vals] : entry.attributes)
                if (!out_.failed && !vals.empty())
                    attribute(attr, vals, is_terminal, is_leaf);
        }
        --recursion_;
    }

    void attribute(const std::string &attr, const std::vector<std::string> &vals, bool is_terminal,
                   bool is_leaf) {
        std::size_t i = 0;
        while (i < attrs_.size() && attrdesc_subtype(attrs_[i], attr) <= 0)
            ++i;
        bool listed = i < attrs_.size();
        if (i < num_attributes_ || is_terminal) {
            bool skip =
                (is_terminal && i >= num_terminal_) || (!is_leaf && i < num_terminal_ + num_leaf_);
            if (!skip)
                ordinary(vals);
        } else if (listed && recursion_ < t_.recursion_limit) {
            for (const auto &v : vals)
                if (!special(v))
                    break;
        } else if (listed) {
            fail(LDAP_OTHER, "recursion_limit (" + std::to_string(t_.recursion_limit) +
                                 ") exceeded for special attribute " + attr + "=" + vals[0]);
        }
    }

    void ordinary(const std::vector<std::string> &vals) {
        for (const auto &v : vals) {
            auto expanded = expand_result(t_, v, key_);
            if (!expanded)
                continue;
            if (!out_.value.empty())
                out_.value += ',';
            out_.value += *expanded;
            if (t_.expansion_limit > 0 && ++expansion_ > t_.expansion_limit) {
                fail(LDAP_OTHER,
                     "expansion_limit (" + std::to_string(t_.expansion_limit) + ") exceeded");
                return;
            }
        }
    }

    // One DN or LDAP URL of a special result attribute; false once the lookup failed.
    bool special(const std::string &v) {
        SearchAnswer answer;
        if (ldap_is_ldap_url(v.c_str())) {
            LDAPURLDesc *url = nullptr;
            int rc = ldap_url_parse(v.c_str(), &url);
            if (rc != LDAP_URL_SUCCESS) {
                fail(LDAP_OTHER, "malformed URL " + v);
                return false;
            }
            std::unique_ptr<LDAPURLDesc, void (*)(LDAPURLDesc *)> owned(url, ldap_free_urldesc);
            auto attrs = url_attributes(*url);
            if (attrs.empty())
                return true; // "no pertinent attributes"
            ++out_.searches;
            answer = follow_.search(url->lud_dn ? url->lud_dn : "", url->lud_scope,
                                    url->lud_filter ? url->lud_filter : "(objectClass=*)", attrs);
        } else {
            ++out_.searches;
            answer = follow_.search(v, LDAP_SCOPE_BASE, "objectclass=*", attrs_);
        }
        if (answer.rc == LDAP_SUCCESS)
            get_values(answer);
        else if (answer.rc != LDAP_NO_SUCH_OBJECT) // a missing DN counts as one without values
            fail(answer.rc, "search for " + v + ": " + ldap_err2string(answer.rc) +
                                (answer.diagnostic.empty() ? "" : ": " + answer.diagnostic));
        return !out_.failed;
    }

    // url_attrs(): the URL's attributes that are result attributes (the more specific
    // description of the two), or all result attributes when the URL names none.
    std::vector<std::string> url_attributes(const LDAPURLDesc &url) const {
        if (!url.lud_attrs || !*url.lud_attrs)
            return attrs_;
        std::vector<std::string> out;
        for (char **a1 = url.lud_attrs; *a1; ++a1)
            for (const auto &a2 : attrs_) {
                int rel = attrdesc_subtype(*a1, a2);
                if (rel > 0)
                    out.push_back(a2);
                else if (rel < 0)
                    out.push_back(*a1);
            }
        return out;
    }

    const LdapTable &t_;
    std::string key_;
    FollowUpSearches &follow_;
    std::vector<std::string> attrs_;
    std::size_t num_terminal_ = 0, num_leaf_ = 0, num_attributes_ = 0;
    int recursion_ = 0;
    int expansion_ = 0;
    LookupValue out_;
};

} // namespace

std::vector<std::string> postfix_result_attributes(const LdapTable &t) {
    std::vector<std::string> attrs;
    for (const auto *list : {&t.terminal_result_attribute, &t.leaf_result_attribute,
                             &t.result_attribute, &t.special_result_attribute})
        for (auto &a : split_list(*list))
            attrs.push_back(a);
    return attrs;
}

LookupValue lookup_value(const LdapTable &table, std::string_view key, const SearchAnswer &top,
                         FollowUpSearches &follow) {
    return Walk(table, key, follow).run(top);
}

} // namespace lhc
