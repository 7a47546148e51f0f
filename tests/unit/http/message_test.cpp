#include "http/message.hpp"

#include "support/test_support.hpp"

namespace dispatch::http {
namespace {

TEST(Message, ParseQueryDecodesPlusAndEscapes) {
    const auto params = ParseQuery("a=1&b=x+y&c=%2F&flag&&d=%zz");

    EXPECT_THAT(params,
                ::testing::ElementsAre(::testing::Pair("a", "1"),
                                       ::testing::Pair("b", "x y"),
                                       ::testing::Pair("c", "/"),
                                       ::testing::Pair("flag", ""),
                                       ::testing::Pair("d", "%zz")));
}

TEST(Message, HeaderLookupIgnoresCase) {
    Request request;
    request.headers = {{"content-type", "application/json"}, {"x-a", "1"}, {"x-a", "2"}};

    EXPECT_EQ(request.Header("Content-Type"), "application/json");
    EXPECT_EQ(request.Header("X-A"), "1");
    EXPECT_EQ(request.Header("missing"), "");
}

TEST(Message, QueryParamReturnsFirstDecodedValue) {
    Request request;
    request.query = "auth%5Bdomain%5D=acme.bitrix24.ru&x=1&x=2";

    EXPECT_EQ(request.QueryParam("auth[domain]"), "acme.bitrix24.ru");
    EXPECT_EQ(request.QueryParam("x"), "1");
    EXPECT_EQ(request.QueryParam("y"), std::nullopt);
}

TEST(Message, StatusResponseCarriesOnlyTheReasonPhrase) {
    const Response response = Response::Status(404);

    EXPECT_EQ(response.status, 404);
    EXPECT_EQ(response.body, "Not Found\n");
    EXPECT_EQ(ReasonPhrase(799), "Unknown");
}

}  // namespace
}  // namespace dispatch::http
