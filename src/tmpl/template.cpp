#include "tmpl/template.hpp"

#include <algorithm>
#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tmpl/parser.hpp"
#include "tmpl/render.hpp"
#include "tmpl/variables.hpp"

namespace kvmhub::tmpl {

struct Template::Impl {
    std::string name;
    Body body;
    std::string description;
    std::vector<std::string> variables;
};

namespace {

tl::unexpected<Error> failure(const std::string& name, const Fault& fault, TemplateError* detail) {
    TemplateError err{name, fault.pos.line, fault.pos.column, fault.reason};
    if (detail != nullptr) *detail = err;
    return fail(Errc::BadInput, "template", err.message());
}

}  // namespace

std::string TemplateError::message() const {
    return fmt::format("{}:{}:{}: {}", name, line, column, reason);
}

Result<Template> Template::parse(std::string name, std::string_view source, TemplateError* detail) {
    try {
        auto parsed = parse_template(source);
        if (!parsed) return failure(name, parsed.error(), detail);
        auto impl = std::make_shared<Impl>();
        impl->name = std::move(name);
        impl->body = std::move(parsed->body);
        impl->description = std::move(parsed->description);
        impl->variables = find_variables(impl->body);
        return Template(std::move(impl));
    } catch (const std::exception& e) {  // only allocation failures can get here
        return fail(Errc::Internal, "template", fmt::format("{}: {}", name, e.what()));
    }
}

Result<std::string> Template::render(const nlohmann::json& context, const RenderOptions& options,
                                     TemplateError* detail) const {
    try {
        Renderer renderer(options);
        auto out = renderer.run(impl_->body, context);
        if (!out) return failure(impl_->name, out.error(), detail);
        return std::move(*out);
    } catch (const std::exception& e) {  // only allocation failures can get here
        return fail(Errc::Internal, "template", fmt::format("{}: {}", impl_->name, e.what()));
    }
}

const std::vector<std::string>& Template::variables() const {
    return impl_->variables;
}
const std::string& Template::description() const {
    return impl_->description;
}
const std::string& Template::name() const {
    return impl_->name;
}

const std::vector<std::string>& reserved_variables() {
    static const std::vector<std::string> names = {"META_SRV",   "vm_arch",      "vm_create",
                                                   "vm_creater", "vm_last_disk", "vm_uuid"};
    return names;
}

std::vector<std::string> user_variables(const Template& tmpl) {
    std::vector<std::string> out;
    for (const auto& name : tmpl.variables()) {
        if (std::find(reserved_variables().begin(), reserved_variables().end(), name) == reserved_variables().end()) {
            out.push_back(name);
        }
    }
    return out;
}

}  // namespace kvmhub::tmpl
