#include "appliance/sip/uri.h"

#include <gtest/gtest.h>

namespace callvault::sip {
namespace {

TEST(SipUriTest, SipUriParts) {
  Uri u;
  ASSERT_TRUE(ParseUri("sip:alice:secret@atlanta.com:5070;transport=tcp;user=phone?subject=x", &u));
  EXPECT_EQ(u.scheme, UriScheme::kSip);
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.host, "atlanta.com");
  EXPECT_EQ(u.port, 5070);
  EXPECT_EQ(u.params, ";transport=tcp;user=phone");
  EXPECT_EQ(u.headers, "subject=x");
  EXPECT_TRUE(u.user_phone);
  EXPECT_EQ(u.Param("TRANSPORT").value_or(""), "tcp");
  EXPECT_FALSE(u.Param("lr").has_value());
}

TEST(SipUriTest, SipsIpv6AndNoUser) {
  Uri u;
  ASSERT_TRUE(ParseUri("sips:[2001:db8::10]:5061;lr", &u));
  EXPECT_EQ(u.scheme, UriScheme::kSips);
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.host, "2001:db8::10");
  EXPECT_EQ(u.port, 5061);
  EXPECT_EQ(u.Param("lr").value_or("x"), "");
  ASSERT_TRUE(ParseUri("sip:bob@[2001:db8::1]", &u));
  EXPECT_EQ(u.user, "bob");
  EXPECT_EQ(u.host, "2001:db8::1");
  EXPECT_EQ(u.port, 0);
}

TEST(SipUriTest, TelUri) {
  Uri u;
  ASSERT_TRUE(ParseUri("tel:+1-201-555-0123;phone-context=example.com", &u));
  EXPECT_EQ(u.scheme, UriScheme::kTel);
  EXPECT_EQ(u.user, "+1-201-555-0123");
  EXPECT_EQ(u.host, "");
  EXPECT_EQ(u.Param("phone-context").value_or(""), "example.com");
}

TEST(SipUriTest, OtherAndInvalid) {
  Uri u;
  ASSERT_TRUE(ParseUri("urn:service:sos", &u));
  EXPECT_EQ(u.scheme, UriScheme::kOther);
  EXPECT_FALSE(ParseUri("no-scheme-here", &u));
  EXPECT_FALSE(ParseUri(":x", &u));
  EXPECT_FALSE(ParseUri("", &u));
  ASSERT_TRUE(ParseUri("sip:a@h:99999", &u));  // bad port: host kept, port absent
  EXPECT_EQ(u.host, "h");
  EXPECT_EQ(u.port, 0);
}

TEST(SipUriTest, NameAddrForms) {
  NameAddr na;
  ASSERT_TRUE(ParseNameAddr("\"Doe, \\\"J\\\"\" <sip:j@x.com>;tag=abc;x=\"1;2\"", &na));
  EXPECT_EQ(na.display_name, "Doe, \\\"J\\\"");
  EXPECT_EQ(na.uri.user, "j");
  EXPECT_EQ(na.tag, "abc");
  EXPECT_EQ(na.Param("x").value_or(""), "\"1;2\"");

  ASSERT_TRUE(ParseNameAddr("Bob Smith <sip:bob@b.com;transport=udp>;tag=9", &na));
  EXPECT_EQ(na.display_name, "Bob Smith");
  EXPECT_EQ(na.uri.Param("transport").value_or(""), "udp");
  EXPECT_EQ(na.tag, "9");

  // addr-spec without <>: ;tag belongs to the header, not the URI (§20.10).
  ASSERT_TRUE(ParseNameAddr("sip:carol@c.com;tag=77", &na));
  EXPECT_EQ(na.display_name, "");
  EXPECT_EQ(na.uri.host, "c.com");
  EXPECT_EQ(na.uri.params, "");
  EXPECT_EQ(na.tag, "77");

  ASSERT_TRUE(ParseNameAddr("<tel:+15551234>", &na));
  EXPECT_EQ(na.uri.scheme, UriScheme::kTel);
  EXPECT_EQ(na.uri.user, "+15551234");

  EXPECT_FALSE(ParseNameAddr("\"unterminated <sip:a@b>", &na));
  EXPECT_FALSE(ParseNameAddr("<sip:a@b", &na));
  EXPECT_FALSE(ParseNameAddr("", &na));
  EXPECT_FALSE(ParseNameAddr("<>", &na));
}

}  // namespace
}  // namespace callvault::sip
