// Restoring a simplekvm configuration backup (its /conf/backup/ .tgz of DATA_DIR): the files
// become kvmhub store keys, so an installation can move over with its templates and actions.
//   domains/<n>.tpl   -> /templates/domain/<n>      hosts.json   -> /catalog/hosts/<name>
//   devices/<n>.tpl   -> /templates/device/<n>      devices.json -> /catalog/devices/<kvmhost>/<name>
//   devices/<n>.action-> /templates/action/<n>      golds.json   -> /catalog/golds/<arch>/<name>
//   meta/<n>.tpl      -> /templates/meta/<n>        iso.json     -> /catalog/isos/<name>
//                                                   vars.json    -> /catalog/vars
// cidata/ (rebuilt by kvmhub) and anything else is reported as skipped. The blank gold and ISO
// entries are skipped too: kvmhub lists them without storing them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace kvmhub::catalog {

// `path` (without a leading "./") is one of the names simplekvm's backup holds (BAK_PREFIX).
bool is_simplekvm_path(std::string_view path);

// (store key, value) for every member that maps to one; the others are added to `skip` as
// "<member>: <reason>". A table that is not the JSON simplekvm writes is BadInput.
Result<std::vector<std::pair<std::string, std::string>>> convert_simplekvm_backup(
    const std::vector<std::pair<std::string, std::string>>& members, std::vector<std::string>& skip);

}  // namespace kvmhub::catalog
