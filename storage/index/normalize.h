// Normalisation of PII before blind indexing, so that equal values written by the engine
// and typed by a reviewer give the same blind index.
//   number (ANI, dialled): strip "tel:"/"sip:"/"sips:" and anything from '@' or ';';
//     keep the digits only ("+1 202-555-0143" -> "12025550143"); a value without digits
//     ("anonymous") is lower-cased and trimmed instead.
//   agent name: trimmed, internal whitespace runs collapsed to one space, ASCII lower-case.
//   extension: trimmed.
// Empty results are not indexed.
#ifndef CALLVAULT_STORAGE_INDEX_NORMALIZE_H_
#define CALLVAULT_STORAGE_INDEX_NORMALIZE_H_

#include <string>
#include <string_view>

namespace callvault {

std::string NormalizeNumberForIndex(std::string_view s);
std::string NormalizeNameForIndex(std::string_view s);
std::string NormalizeExtensionForIndex(std::string_view s);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_INDEX_NORMALIZE_H_
