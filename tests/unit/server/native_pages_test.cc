// The host's own pages (/login, /static/style.css) in front of a dispatcher.
#include "server/native_pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "habanero/clock.h"
#include "server/web_assets.h"
#include "store/sqlite/sqlite_storage.h"

namespace habanero::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class Next final : public Dispatcher {
 public:
  Response dispatch(const Request& request) override {
    ++calls;
    return Response::text(200, "next: " + request.path);
  }
  int calls = 0;
};

class NativePagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "habanero-pages-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto storage = store::SqliteStorage::open(dir_ + "/habanero.db", SystemClock::instance());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    sessions_ = std::make_unique<auth::Sessions>(*storage_, SystemClock::instance());
    pages_ = std::make_unique<NativePages>(next_, *sessions_, [this] { return methods_; });
  }
  void TearDown() override {
    pages_.reset();
    sessions_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Starts an attempt; `browser` receives its binding cookie.
  std::string begin(Headers& browser) {
    auto begun = sessions_->beginLogin("/authorize/resume?p=1", "", {}, false);
    EXPECT_TRUE(begun.ok()) << begun.status();
    browser = {{"Cookie", begun->set_cookie.substr(0, begun->set_cookie.find(';'))}};
    return begun->rt;
  }
  Response get(const std::string& path, const std::string& query, const Headers& headers = {},
               const std::string& method = "GET") {
    Request r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.headers = headers;
    return pages_->dispatch(r);
  }

  std::string dir_;
  StoragePtr storage_;
  std::unique_ptr<auth::Sessions> sessions_;
  Next next_;
  std::vector<LoginMethod> methods_;
  std::unique_ptr<NativePages> pages_;
};

TEST_F(NativePagesTest, OtherPathsGoToTheNextDispatcher) {
  EXPECT_EQ(get("/authorize", "").body, "next: /authorize");
  EXPECT_EQ(get("/login/password/", "").body, "next: /login/password/");
  EXPECT_EQ(get("/loginx", "").body, "next: /loginx");
  EXPECT_EQ(get("/static/other.css", "").body, "next: /static/other.css");
  EXPECT_EQ(next_.calls, 4);
}

TEST_F(NativePagesTest, ServesTheStylesheet) {
  Response r = get("/static/style.css", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, web::kStyleCss);
  EXPECT_THAT(r.body, HasSubstr(".button"));
  ASSERT_NE(findHeader(r.headers, "content-type"), nullptr);
  EXPECT_EQ(*findHeader(r.headers, "content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(get("/static/style.css", "", {}, "POST").status, 405);
  EXPECT_EQ(next_.calls, 0);
}

TEST_F(NativePagesTest, UnknownExpiredOrForeignAttemptsGetTheExpiredPage) {
  methods_ = {{"/login/password", "Password"}};
  Headers browser;
  std::string rt = begin(browser);
  for (const std::string& query : {std::string(""), std::string("rt="), std::string("rt=nope"),
                                   std::string("rt=%ZZ"), "rt=" + rt + "&rt=" + rt, "rt=" + rt}) {
    // The last one is the right rt, but from another browser (no binding cookie).
    Response r = get("/login", query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_THAT(r.body, HasSubstr("This sign-in link has expired; start again from the "
                                  "application."));
    EXPECT_THAT(*findHeader(r.headers, "content-type"), HasSubstr("text/html"));
    EXPECT_EQ(*findHeader(r.headers, "cache-control"), "no-store");
  }
  EXPECT_EQ(next_.calls, 0);
}

TEST_F(NativePagesTest, OneAuthenticatorIsARedirect) {
  methods_ = {{"/login/password", "Email and password"}};
  Headers browser;
  std::string rt = begin(browser);
  Response r = get("/login", "rt=" + rt, browser);
  EXPECT_EQ(r.status, 302);
  ASSERT_NE(findHeader(r.headers, "location"), nullptr);
  EXPECT_EQ(*findHeader(r.headers, "location"), "/login/password/?rt=" + rt);
  EXPECT_EQ(get("/login", "rt=" + rt, browser, "HEAD").status, 302);
  EXPECT_EQ(get("/login", "rt=" + rt, browser, "POST").status, 405);
}

TEST_F(NativePagesTest, SeveralAuthenticatorsAreListedEscaped) {
  methods_ = {{"/login/password", "Email & password"},
              {"/login/evil", "<script>alert(1)</script>"},
              {"/", "Root \"quoted\""}};
  Headers browser;
  std::string rt = begin(browser);
  Response r = get("/login", "rt=" + rt, browser);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<!doctype html>"));
  EXPECT_THAT(r.body, HasSubstr("<link rel=\"stylesheet\" href=\"/static/style.css\">"));
  EXPECT_THAT(r.body,
              HasSubstr("href=\"/login/password/?rt=" + rt + "\">Email &amp; password</a>"));
  EXPECT_THAT(r.body, HasSubstr("href=\"/?rt=" + rt + "\">Root &quot;quoted&quot;</a>"));
  EXPECT_THAT(r.body, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(r.body, Not(HasSubstr("<script")));
  EXPECT_THAT(r.body, Not(HasSubstr("{{")));
  const std::string* csp = findHeader(r.headers, "content-security-policy");
  ASSERT_NE(csp, nullptr);
  EXPECT_THAT(*csp, HasSubstr("default-src 'none'"));
  EXPECT_THAT(*csp, Not(HasSubstr("script-src")));
  EXPECT_EQ(*findHeader(r.headers, "x-frame-options"), "DENY");
}

TEST_F(NativePagesTest, NoAuthenticatorIs503) {
  Headers browser;
  std::string rt = begin(browser);
  Response r = get("/login", "rt=" + rt, browser);
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("No sign-in method"));
}

TEST(Templates, EscapeAndRender) {
  EXPECT_EQ(htmlEscape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
  EXPECT_EQ(renderTemplate("<t>{{title}}</t>{{body}}{{unknown}}{{", {{"title", "{{body}}"},
                                                                      {"body", "B"}}),
            "<t>{{body}}</t>B{{unknown}}{{")
      << "one pass: values are not re-expanded";
  EXPECT_EQ(sdk::pageTemplateProblem(web::kPageHtml), "") << "the built-in shell is usable";
  EXPECT_THAT(web::kPageHtml, Not(HasSubstr("<script")));
  EXPECT_EQ(sdk::pageTemplateProblem("<title>{{ title }}</title>"),
            "lacks the placeholder {{body}}");
  EXPECT_EQ(sdk::pageTemplateProblem(""), "is empty");
}

// [web] page_template: the operator's shell replaces web/page.html on the host's pages,
// with the same headers and CSP as every extension page.
TEST_F(NativePagesTest, TheOperatorsShellIsUsed) {
  pages_ = std::make_unique<NativePages>(
      next_, *sessions_, [this] { return methods_; },
      "<html><title>{{title}} | Example Corp</title><div class=\"corp\">{{body}}</div></html>");
  methods_ = {{"/login/password", "Email & password"}, {"/login/email", "Email link"}};
  Headers browser;
  std::string rt = begin(browser);
  Response r = get("/login", "rt=" + rt, browser);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<title>Sign in | Example Corp</title>"));
  EXPECT_THAT(r.body, HasSubstr("<div class=\"corp\"><h1>Sign in</h1>"));
  EXPECT_THAT(r.body, HasSubstr("Email &amp; password</a>"));
  EXPECT_THAT(r.body, Not(HasSubstr("/static/style.css"))) << "not the built-in shell";
  ASSERT_NE(findHeader(r.headers, "content-security-policy"), nullptr);
  EXPECT_EQ(*findHeader(r.headers, "content-security-policy"), sdk::kPageCsp);
}

}  // namespace
}  // namespace habanero::server
