// SPDX-License-Identifier: MIT
/*
 * The device's MAC from a User-Agent: every vendor form of useragent.h with the strings
 * devices send, and the near misses that must not yield a MAC (truncations, serial
 * numbers, a MAC in the wrong place, browsers and tools, garbage).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/useragent.h"

/* ua through an exact-size heap copy, so that ASan sees any read past len */
static bool device(const char *ua, char mac[MAC_LEN + 1], const char **vendor)
{
	size_t n = strlen(ua);
	char *copy = test_malloc(n ? n : 1);
	bool r;

	memcpy(copy, ua, n);
	r = ua_device(copy, n, mac, vendor);
	test_free(copy);
	return r;
}

static void assert_device(const char *ua, const char *vendor, const char *mac)
{
	char got[MAC_LEN + 1] = "";
	const char *v = NULL;

	if (!device(ua, got, &v))
		fail_msg("no device in \"%s\"", ua);
	assert_string_equal(v, vendor);
	assert_string_equal(got, mac);
}

static void assert_none(const char *ua)
{
	char got[MAC_LEN + 1] = "untouched!!!";
	const char *v = "untouched";

	if (device(ua, got, &v))
		fail_msg("\"%s\" gave %s %s", ua, v, got);
	assert_string_equal(got, "untouched!!!");
	assert_string_equal(v, "untouched");
}

static void test_yealink(void **state)
{
	assert_device("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56", "yealink", "001565123456");
	assert_device("yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b", "yealink", "00156513ae0b");
	assert_device("Yealink SIP-T38G  38.70.0.125 00:15:65:2f:c3:5e", "yealink", "0015652fc35e");
	assert_device("Yealink SIP VP-T49G 51.80.0.10 00:15:65:9b:5a:44", "yealink",
		      "0015659b5a44");
	assert_device("Yealink W52P 25.80.0.15 00:15:65:b8:60:05", "yealink", "001565b86005");
	assert_device("Yealink SIP-T56A 58.80.0.25 001565f429a4", "yealink", "001565f429a4");
	assert_device("Yealink SIP-T54W 96.86.0.100 80:5E:C0:12:34:56", "yealink", "805ec0123456");
	assert_device("W52P 25.30.0.2 00:15:65:44:b3:7c", "yealink", "00156544b37c");
	assert_device("VP530P 23.70.0.40 00:15:65:31:4b:c0", "yealink", "001565314bc0");
	assert_device("Yealink\tSIP-T46S\t66.86.0.15\t00:15:65:12:34:56", "yealink",
		      "001565123456");
	/* no MAC: the hardware version in its place */
	assert_none("Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0");
	/* truncated, mangled, misplaced */
	assert_none("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:5");
	assert_none("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34");
	assert_none("Yealink SIP-T46S 66.86.0.15");
	assert_none("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:5g");
	assert_none("Yealink SIP-T46S 66.86.0.15 00-15-65-12-34-56");
	assert_none("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56:78");
	assert_none("Yealink SIP-T46S 66.86.0.15 0015:65:12:34:56");
	assert_none("Yealink SIP-T46S beta 00:15:65:12:34:56"); /* no version before */
	assert_none("Yealink 00:15:65:12:34:56 66.86.0.15");	/* order */
	assert_none("Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56 extra");
	assert_none("Yealink a b c 66.86.0.15 00:15:65:12:34:56"); /* too many tokens */
	assert_none("Yealinks SIP-T46S 66.86.0.15 00:15:65:12:34:56");
	assert_none("W52P 25.30.0.2 0015654 4b37c");
	assert_none("T46S 66.86.0.15 00:15:65:12:34:56"); /* not a bare-model form */
	/* no device: zeros, multicast, broadcast */
	assert_none("Yealink SIP-T46S 66.86.0.15 00:00:00:00:00:00");
	assert_none("Yealink SIP-T46S 66.86.0.15 01:00:5e:00:00:01");
	assert_none("Yealink SIP-T46S 66.86.0.15 ff:ff:ff:ff:ff:ff");
	assert_none("Yealink SIP-T46S 66.86.0.15 33:33:00:00:00:01");
}

static void test_polycom(void **state)
{
	assert_device("FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f2123456) "
		      "Type/Application",
		      "polycom", "0004f2123456");
	assert_device("FileTransport PolycomSoundStationIP-SSIP_5000-UA/4.0.3.7562 "
		      "(SN:0004F2E765DA) Type/Application",
		      "polycom", "0004f2e765da");
	assert_device("FileTransport PolycomVVX-VVX_500-UA/5.9.7.47435 (SN:64167f123456)",
		      "polycom", "64167f123456");
	/* most Polycom requests carry no serial number */
	assert_none("FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application");
	assert_none("FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078");
	assert_none("Polycom/5.5.2.8571 PolycomVVX-VVX_310-UA/5.5.2.8571");
	/* near misses */
	assert_none("FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f212345) Type/App");
	assert_none("FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f2123456 Type/App");
	assert_none("FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 (SN: 0004f2123456)");
	assert_none("FileTransport PolycomVVX-VVX_450 (SN:0004f2123456) Type/Application");
	assert_none("FileTransport Other-UA/1.0 (SN:0004f2123456) Type/Application");
	assert_none("PolycomVVX-VVX_450-UA/6.3.1.1234 (SN:0004f2123456) Type/Application");
	assert_none("FileTransport PolycomVVX-VVX_450-UA/6.3.1.1234 Type/Application "
		    "(SN:0004f2123456)");
}

static void test_cisco_linksys(void **state)
{
	assert_device("Cisco/SPA504G-7.6.2 (0011223344AA)(CCQ162306EA)", "cisco", "0011223344aa");
	assert_device("Cisco/SPA501G-7.4.4 (8843E157DDCC)(CBT141100HR)", "cisco", "8843e157ddcc");
	assert_device("Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)", "cisco", "0002fdff2103");
	/* the serial number alone */
	assert_none("Cisco/SPA525G-7.4.4 (CBT141900G7)");
	assert_none("Cisco/SPA525G-7.4.4 (8843E157DDCC)");
	assert_none("Cisco/SPA504G-7.4.9c (001565000000)()");
	assert_none("Cisco/SPA504G-7.4.9c (001565000000)(CCQ162306EA");
	assert_none("Cisco/SPA504G-7.4.9c (00156500000)(CCQ162306EA)");
	assert_none("Cisco/SPA504G-7.4.9c (001565000000) (CCQ162306EA)");
	assert_none("Cisco/SPA504G-7.4.9c (001565000000)(CCQ-162306EA)");
	assert_none("Cisco-CP7960G/8.0");
	/* Linksys: the parentheses hold the serial number, even when it looks like a MAC */
	assert_none("Linksys/SPA942-6.1.5(a) (88019FA01234)");
	assert_none("Linksys/SPA-942-6.1.5(a) (88019FA42805)");
	assert_none("Linksys/SPA-921-5.1.8 (4MJ00HC02158)");
}

static void test_grandstream(void **state)
{
	assert_device("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82123456", "grandstream",
		      "000b82123456");
	assert_device("Grandstream Model HW GXV3240 V1.6B SW 1.0.1.27 DevId 000b82632815",
		      "grandstream", "000b82632815");
	assert_device("Grandstream Model HW HT801 V1.1A SW 1.0.17.5 DevId c074ad273a10",
		      "grandstream", "c074ad273a10");
	assert_device("Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId "
		      "000b822726c8",
		      "grandstream", "000b822726c8");
	assert_none("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId");
	assert_none("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b8212345");
	assert_none("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 00:0b:82:12:34:56");
	assert_none("Grandstream Model HW GXP2170 SW 1.0.11.3 000b82123456");
	assert_none("Grandstream Model HW GXP2170 SW 1.0.11.3 DevId: 000b82123456");
	assert_none("Grandstream GXP2170 1.0.11.3");
}

static void test_snom(void **state)
{
	assert_device("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 "
		      "000413922D24 SXM:0 UXM:0)",
		      "snom", "000413922d24");
	assert_device("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 "
		      "000413741767)",
		      "snom", "000413741767");
	/* a build date in parentheses before the MAC */
	assert_device("Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 "
		      "2010.12-00001-gd311851f1 (Feb 25 2019 - 14:19:43) 00041396D9B4 SXM:0 UXM:0 "
		      "UXMC:0)",
		      "snom", "00041396d9b4");
	/* no MAC */
	assert_none("Mozilla/4.0 (compatible; snom320-SIP 7.3.30 1.1.3-u)");
	assert_none("Mozilla/4.0 (compatible; snom320-SIP 6.5.20; snom320 jffs2 v3.36; snom320 "
		    "linux 3.38)");
	assert_none("Mozilla/4.0 (compatible; snom lid 3605)");
	/* hex inside the nested parentheses, or after the group closed, is not the MAC */
	assert_none("Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 build (000413922D24) "
		    "SXM:0)");
	assert_none("Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 build) 000413922D24");
	/* the MAC as the last word of the group */
	assert_device("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12; 000413123456)",
		      "snom", "000413123456");
	assert_none("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 b 000413123456))");
	assert_none("Mozilla/4.0 (compatible; MSIE 6.0; 000413922D24)");
	assert_none("Mozilla/4.0 (compatible; snomD785 10.1.33.33 b 000413922D24)");
}

static void test_fanvil_flyingvoice_htek(void **state)
{
	assert_device("Fanvil X4U 2.12.1 0c383e123456", "fanvil", "0c383e123456");
	assert_device("Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "0c383e07e16c");
	assert_device("Fanvil X5U-V2 2.12.1 0C383E07E16C", "fanvil", "0c383e07e16c");
	assert_none("Fanvil X5U-V2 2.12.1 0c3800000000)");
	assert_none("Fanvil X4U 2.12.1 0c:38:3e:12:34:56");
	assert_none("Fanvil X4U 0c383e123456");
	assert_none("Fanvil X4U beta 2.12.1 0c383e123456");

	assert_device("Flyingvoice FIP13G V0.6.24 00:21:F2:22:AE:F1", "flyingvoice",
		      "0021f222aef1");
	assert_device("FLYINGVOICE FIP11C V2.1.3 00:21:f2:01:1b:19", "flyingvoice", "0021f2011b19");
	assert_none("Flyingvoice FIP13G V0.6.24 0021F222AEF1");
	assert_none("Flyingvoice FIP13G 00:21:F2:22:AE:F1");
	assert_none("Flyingvoice FIP13G V 00:21:F2:22:AE:F1");

	assert_device("Htek UC926 2.0.4.2 00:1f:c1:12:34:56", "htek", "001fc1123456");
	assert_none("Htek UC926 2.0.4.2 00:1f:c1:00:00");
}

static void test_panasonic(void **state)
{
	assert_device("Panasonic_KX-UT113/01.133 (0080f0c8c381)", "panasonic", "0080f0c8c381");
	assert_device("Panasonic_KX-UTG300/01.100 (0080F0ABCDEF)", "panasonic", "0080f0abcdef");
	assert_none("Panasonic_KX-UT670/01.022 (0080f000000)"); /* 11 digits */
	assert_none("Panasonic_KX-UT113/01.133 0080f0c8c381");
	assert_none("Panasonic_KX-UT113 (0080f0c8c381)");
	assert_none("Panasonic KX-UT113/01.133 (0080f0c8c381)");
	assert_none("Panasonic_KX-UT113/01.133 (0080f0c8c381) x");
}

static void test_audiocodes(void **state)
{
	assert_device("AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC)", "audiocodes",
		      "00908f602aac");
	assert_device("AUDC-IPPhone/3.4.4.1000 (405HD-Rev1; 00908f123456)", "audiocodes",
		      "00908f123456");
	assert_device("Mozilla/4.0 (compatible; AudioCodes; Mediant 800;7.20A.258.007;"
		      "00908F1DD0D3;1)",
		      "audiocodes", "00908f1dd0d3");
	assert_device("Mozilla/4.0 (compatible; AudioCodes; MP-118;6.60A.300.002;00908F0A0B0C;)",
		      "audiocodes", "00908f0a0b0c");
	assert_none("AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AAC");
	assert_none("AUDC-IPPhone/2.2.8.61 (440HDG-Rev0 00908F602AAC)");
	assert_none("AUDC-IPPhone/2.2.8.61 (440HDG-Rev0; 00908F602AA)");
	assert_none("AUDC-IPPhone (440HDG-Rev0; 00908F602AAC)");
	assert_none("Mozilla/4.0 (compatible; AudioCodes; Mediant 800;7.20A.258.007;00908F1DD0D3)");
	assert_none("Mozilla/4.0 (compatible; AudioCodes; M;7.20A;00908F1DD0D3;1;x)");
	assert_none("Mozilla/4.0 (compatible; AudioCodes; M;7.20A;00908F1DD0D3;1");
	assert_none("Mozilla/4.0 (compatible; AudioCodes; 00908F1DD0D3;M;V;1)");
}

static void test_gigaset_aastra_mitel(void **state)
{
	assert_device("Gigaset N870 IP PRO/83.V2.43.0+build.5f0a106;7C2F80123456", "gigaset",
		      "7c2f80123456");
	assert_device("Gigaset N610 IP PRO/83.V2.64.0-160-g758db0bf;589EC67C2479;Handset=20",
		      "gigaset", "589ec67c2479");
	assert_none("Gigaset N870 IP PRO/83.V2.43.0+build.5f0a106;7C2F80XXXXXX");
	assert_none("Gigaset N870 IP PRO 83.V2.43.0+build.5f0a106;7C2F80123456");
	assert_none("Gigaset N870 IP PRO/83.V2.43.0+build.5f0a106;Handset=20;7C2F80123456");

	assert_device("Aastra6731i MAC:00-08-5D-29-4C-6B V:3.3.1.4365-SIP", "aastra",
		      "00085d294c6b");
	assert_device("Mitel6940 MAC:14-00-E9-29-4C-6B V:6.4.0.4006-SIP", "mitel", "1400e9294c6b");
	assert_none("Mitel6940 MAC:14:00:E9:29:4C:6B V:6.4.0.4006-SIP");
	assert_none("Mitel6940 MAC:1400E9294C6B V:6.4.0.4006-SIP");
	assert_none("Mitel6940 V:6.4.0.4006-SIP MAC:14-00-E9-29-4C-6B");
}

static void test_not_devices(void **state)
{
	static const char *const agents[] = {
		"curl/7.88.1",
		"Wget/1.21.3",
		"Python-urllib/3.11",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
		"Chrome/125.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
		"tftp-hpa 5.2 001565123456",
		"MyPhone 1.2.3 00:15:65:12:34:56",
		"001565123456",
		"00:15:65:12:34:56",
		"Algo-8201/5.2",
		"Algo 8301 5.2 00:22:ee:01:02:03",
		"",
		" ",
		"Yealink",
	};
	char mac[MAC_LEN + 1];

	for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
		assert_none(agents[i]);
	assert_false(ua_device(NULL, 0, mac, NULL));
}

static void test_edges(void **state)
{
	char mac[MAC_LEN + 1];
	char big[4096];

	/* the vendor pointer is optional */
	assert_true(ua_device("Fanvil X4 2.10.2.6887 0c383e07e16c", 34, mac, NULL));
	assert_string_equal(mac, "0c383e07e16c");
	/* only len bytes count: a prefix of a good User-Agent is not one */
	assert_false(ua_device("Fanvil X4 2.10.2.6887 0c383e07e16c", 33, mac, NULL));
	/* a NUL inside: refused */
	assert_false(ua_device("Fanvil X4 2.10.2.6887\0 0c383e07e16c", 35, mac, NULL));
	/* surrounding whitespace is no matter */
	assert_device("  Fanvil X4 2.10.2.6887 0c383e07e16c\t", "fanvil", "0c383e07e16c");

	/* long garbage, with and without a vendor's name in front */
	memset(big, 'a', sizeof(big));
	assert_false(ua_device(big, sizeof(big), mac, NULL));
	for (size_t i = 0; i < sizeof(big); i += 13) {
		memcpy(big + i, "001565123456 ", i + 13 <= sizeof(big) ? 13 : sizeof(big) - i);
	}
	assert_false(ua_device(big, sizeof(big), mac, NULL));
	memcpy(big, "Yealink ", 8);
	assert_false(ua_device(big, sizeof(big), mac, NULL));
	memcpy(big, "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 ", 50);
	assert_false(ua_device(big, sizeof(big), mac, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yealink),
		cmocka_unit_test(test_polycom),
		cmocka_unit_test(test_cisco_linksys),
		cmocka_unit_test(test_grandstream),
		cmocka_unit_test(test_snom),
		cmocka_unit_test(test_fanvil_flyingvoice_htek),
		cmocka_unit_test(test_panasonic),
		cmocka_unit_test(test_audiocodes),
		cmocka_unit_test(test_gigaset_aastra_mitel),
		cmocka_unit_test(test_not_devices),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
