// The words the consent page uses for IndieAuth scopes (pages themselves come from the guest
// library's one shell, <habanero/page.hh>).
#include "indieauth.h"

namespace habanero::indieauth {

std::string scopeDescription(std::string_view scope) {
  if (scope == "profile") return "See your name, photo and profile URL";
  if (scope == "email") return "See your email address";
  if (scope == "create") return "Create new posts on your site (Micropub create)";
  if (scope == "update") return "Edit your posts (Micropub update)";
  if (scope == "delete") return "Delete your posts (Micropub delete)";
  if (scope == "undelete") return "Restore deleted posts (Micropub undelete)";
  if (scope == "media") return "Upload files to your media endpoint";
  if (scope == "draft") return "Create drafts only";
  if (scope == "read") return "Read your feeds (Microsub)";
  if (scope == "follow") return "Follow and unfollow feeds (Microsub)";
  if (scope == "mute" || scope == "block") return "Mute or block in your reader (Microsub)";
  if (scope == "channels") return "Manage your reader's channels (Microsub)";
  return "Use the permission \xe2\x80\x9c" + std::string(scope) + "\xe2\x80\x9d";
}

}  // namespace habanero::indieauth
