/* test_rng.c — nb_rng against NumPy's legacy RandomState.
 *
 * Golden values: NumPy 1.24.2 (Debian python3-numpy), produced by
 * tests/ref/numpy_rng.py and pasted here with %.17g; each is a value of
 * numpy.random.RandomState(seed) after the calls named next to it.  Two
 * come from elsewhere: MT19937 with seed 5489 gives 3499211612 first, and
 * 4123659995 as its 10000th word (the C++ standard, [rand.predef], fixes
 * the latter for std::mt19937).  Doubles must agree bit for bit, so they
 * are compared with ==.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include <nabla/rng.h>

/* ---- golden values (tests/ref/numpy_rng.py) ----------------------------- */

static const uint32_t u32_seed12345[8] = {
    3992670690, 3823185381, 1358822685, 561383553,
    789925284, 170765737, 878579710, 3549516158,
};
static const double uniform_seed42_first[10] = {
    0.37454011884736249, 0.95071430640991617, 0.73199394181140509,
    0.5986584841970366, 0.15601864044243652, 0.15599452033620265,
    0.058083612168199461, 0.86617614577493518, 0.6011150117432088,
    0.70807257779604549,
};
static const double uniform_seed42_310_313[4] = {
    0.43897142070563611, 0.078456381342265957, 0.025350743415457511,
    0.96264841467792506,
};
static const double gauss_seed7[12] = {
    1.690525703800356, -0.46593737054083278, 0.032820163678584403,
    0.40751628299650783, -0.7889230286257386, 0.0020655729059481302,
    -0.00089038585793136283, -1.7547243063454208, 1.0176580056634932,
    0.60049851591954939, -0.62542897396675967, -0.17154826119572117,
};
static const double mixed_seed7[5] = {
    1.690525703800356, 0.97798951199660267, -0.46593737054083278,
    0.093166060979751747, 0.072051133359761543,
};
static const double normal_seed11[6] = {
    3.8120910559788843, 2.2854452523877793, 2.1365761508341419,
    0.51001108055389066, 2.4937865279702982, 2.2602764771767765,
};
static const double uniform_range_seed11[4] = {
    -6.3946062224646161, -9.6104951702475088, -0.73562947003310697,
    4.4986785838429562,
};
static const uint64_t interval_max[9] = {
    1, 6, 9,
    255, 1000, 2147483653,
    4294967295, 1099511640121, 9223372036854775807,
};
static const uint64_t interval_seed5[9] = {
    1, 6, 6,
    118, 400, 2097710088,
    385778404, 993841416126, 4905134244493838960,
};
static const size_t shuffle10_seed0[10] = {
    114, 156, 128, 163, 107, 142, 149, 121, 100, 135,
};
static const size_t shuffle1000_seed2024[1000] = {
    444, 898, 186, 584, 664, 457, 99, 941, 643, 276, 456, 163, 996, 126,
    931, 671, 174, 550, 829, 955, 726, 476, 917, 88, 798, 133, 499, 13,
    90, 180, 483, 166, 748, 848, 995, 214, 850, 138, 129, 712, 433, 240,
    229, 69, 658, 600, 691, 440, 709, 762, 825, 141, 291, 120, 605, 524,
    680, 472, 250, 878, 614, 801, 818, 924, 103, 365, 428, 592, 390, 513,
    871, 445, 948, 687, 839, 645, 547, 701, 830, 987, 635, 610, 919, 713,
    578, 556, 540, 28, 947, 788, 484, 350, 36, 436, 594, 292, 535, 251,
    86, 719, 98, 145, 366, 219, 601, 176, 388, 151, 27, 392, 208, 659,
    264, 945, 85, 93, 81, 61, 710, 216, 77, 21, 328, 661, 369, 218,
    361, 478, 514, 386, 487, 75, 140, 230, 918, 2, 752, 853, 152, 89,
    189, 238, 63, 42, 415, 452, 142, 502, 915, 913, 968, 268, 424, 582,
    195, 838, 344, 627, 597, 153, 766, 474, 44, 494, 875, 956, 20, 859,
    880, 693, 656, 397, 901, 315, 438, 468, 792, 182, 727, 751, 761, 375,
    722, 79, 19, 785, 784, 922, 299, 655, 32, 563, 454, 754, 38, 70,
    998, 257, 434, 155, 256, 974, 168, 243, 721, 950, 942, 993, 866, 107,
    558, 673, 1, 470, 749, 981, 297, 914, 159, 466, 520, 72, 604, 309,
    810, 239, 811, 886, 236, 354, 857, 910, 134, 226, 302, 951, 336, 293,
    295, 170, 334, 235, 455, 125, 768, 259, 288, 197, 55, 104, 743, 787,
    624, 161, 423, 34, 611, 572, 620, 147, 808, 642, 978, 332, 861, 305,
    930, 856, 977, 559, 24, 246, 335, 865, 994, 117, 653, 313, 279, 946,
    311, 402, 110, 991, 984, 420, 912, 283, 970, 934, 820, 509, 294, 577,
    492, 683, 615, 275, 52, 285, 92, 793, 707, 272, 750, 353, 169, 887,
    122, 767, 296, 677, 777, 270, 763, 971, 47, 778, 794, 892, 505, 209,
    342, 593, 119, 282, 988, 261, 458, 387, 833, 557, 576, 715, 258, 403,
    345, 986, 567, 356, 591, 496, 753, 906, 759, 708, 828, 385, 425, 271,
    448, 686, 926, 958, 427, 475, 355, 962, 545, 221, 486, 376, 929, 188,
    286, 965, 899, 714, 95, 430, 831, 49, 196, 894, 389, 515, 245, 394,
    37, 772, 112, 318, 695, 716, 940, 689, 338, 603, 920, 233, 460, 585,
    769, 406, 329, 273, 694, 339, 883, 418, 503, 194, 5, 101, 154, 348,
    517, 277, 512, 935, 697, 724, 94, 326, 473, 625, 896, 491, 242, 629,
    911, 108, 290, 149, 320, 521, 969, 308, 298, 531, 71, 516, 800, 579,
    845, 739, 462, 167, 718, 501, 616, 467, 373, 685, 66, 184, 897, 530,
    923, 542, 938, 864, 997, 78, 815, 210, 312, 817, 734, 380, 407, 337,
    529, 740, 782, 172, 646, 667, 842, 377, 314, 443, 814, 280, 862, 156,
    703, 76, 586, 824, 959, 852, 908, 171, 53, 33, 405, 519, 225, 46,
    884, 301, 746, 364, 733, 121, 306, 568, 493, 990, 398, 790, 265, 412,
    874, 637, 274, 775, 341, 137, 639, 198, 755, 223, 331, 201, 414, 522,
    62, 618, 882, 949, 9, 395, 668, 868, 346, 553, 479, 80, 379, 435,
    419, 16, 698, 500, 528, 552, 343, 607, 450, 173, 666, 580, 732, 222,
    56, 638, 590, 111, 477, 657, 613, 228, 488, 705, 482, 323, 498, 652,
    287, 587, 633, 876, 203, 985, 654, 124, 843, 431, 925, 113, 35, 410,
    702, 747, 632, 511, 834, 760, 185, 827, 963, 289, 451, 634, 253, 131,
    735, 324, 944, 649, 143, 802, 248, 213, 621, 822, 583, 738, 676, 806,
    663, 566, 485, 441, 449, 164, 527, 873, 928, 518, 916, 681, 780, 869,
    863, 723, 665, 192, 263, 15, 662, 533, 58, 736, 672, 623, 200, 954,
    644, 217, 546, 187, 67, 333, 770, 805, 157, 867, 972, 231, 115, 927,
    609, 720, 260, 381, 490, 135, 902, 872, 812, 692, 836, 717, 109, 952,
    860, 797, 370, 596, 510, 132, 837, 890, 128, 26, 0, 684, 832, 526,
    401, 471, 745, 588, 670, 895, 544, 179, 650, 267, 630, 504, 193, 284,
    679, 907, 783, 967, 960, 816, 165, 464, 612, 31, 234, 636, 57, 463,
    541, 619, 177, 489, 447, 628, 416, 102, 206, 565, 383, 429, 340, 41,
    17, 357, 807, 439, 840, 696, 255, 678, 84, 317, 757, 106, 73, 453,
    626, 725, 877, 921, 674, 205, 144, 82, 327, 779, 100, 774, 83, 885,
    469, 964, 575, 551, 50, 789, 87, 421, 728, 269, 368, 481, 823, 957,
    175, 349, 300, 204, 497, 48, 442, 888, 18, 706, 803, 281, 148, 764,
    549, 891, 399, 647, 537, 844, 776, 737, 422, 966, 116, 59, 105, 555,
    932, 849, 943, 207, 936, 771, 765, 347, 241, 758, 804, 30, 847, 409,
    999, 561, 10, 536, 40, 23, 162, 562, 937, 905, 821, 589, 538, 352,
    408, 411, 564, 781, 465, 893, 262, 249, 220, 846, 25, 851, 729, 4,
    570, 118, 711, 371, 881, 68, 60, 190, 773, 14, 532, 303, 507, 372,
    675, 741, 307, 704, 976, 413, 146, 211, 903, 266, 791, 215, 330, 699,
    400, 12, 975, 543, 973, 199, 6, 237, 459, 160, 362, 742, 426, 889,
    393, 819, 595, 224, 982, 495, 65, 51, 432, 325, 602, 212, 11, 682,
    835, 3, 826, 855, 123, 191, 278, 244, 360, 617, 660, 599, 374, 130,
    525, 571, 574, 378, 252, 731, 690, 651, 178, 7, 939, 396, 64, 813,
    181, 417, 641, 8, 321, 363, 45, 700, 232, 560, 254, 22, 29, 983,
    904, 359, 319, 879, 304, 139, 358, 534, 979, 461, 43, 384, 96, 909,
    606, 437, 744, 688, 391, 858, 989, 786, 136, 382, 404, 953, 598, 569,
    900, 310, 573, 669, 581, 631, 854, 795, 150, 97, 799, 554, 756, 730,
    870, 841, 992, 114, 54, 39, 91, 796, 523, 980, 351, 622, 202, 247,
    367, 158, 508, 933, 480, 322, 74, 227, 316, 961, 127, 809, 183, 446,
    548, 539, 640, 608, 506, 648,
};
static const size_t permutation12_seed3[12] = {
    5, 4, 1, 2, 11, 6, 7, 0, 3, 9, 8, 10,
};

/* Exact comparison of n doubles with a report of the first mismatch. */
static void expect_doubles(const char *what, const double *want,
                           const double *got, size_t n)
{
    double maxdiff = 0.0;
    for (size_t i = 0; i < n; i++) {
        double diff = want[i] > got[i] ? want[i] - got[i] : got[i] - want[i];
        if (diff > maxdiff)
            maxdiff = diff;
        ck_assert_msg(want[i] == got[i], "%s[%zu]: got %.17g, NumPy %.17g",
                      what, i, got[i], want[i]);
    }
    printf("%s: %zu values, max |diff| %g\n", what, n, maxdiff);
}

START_TEST(test_check_values)
{
    /* The three values quoted in the module's brief (NumPy legacy). */
    nb_rng rng;
    nb_rng_seed(&rng, 0);
    ck_assert(nb_rng_uniform(&rng) == 0.5488135039273248);
    nb_rng_seed(&rng, 0);
    ck_assert(nb_rng_gauss(&rng) == 1.764052345967664);
    nb_rng_seed(&rng, 1);
    ck_assert(nb_rng_uniform(&rng) == 0.417022004702574);
}
END_TEST

START_TEST(test_mt19937_reference)
{
    nb_rng rng;
    uint32_t w = 0;
    nb_rng_seed(&rng, 5489);
    ck_assert_uint_eq(nb_rng_uint32(&rng), 3499211612u);
    for (int i = 1; i < 10000; i++)
        w = nb_rng_uint32(&rng);
    ck_assert_uint_eq(w, 4123659995u);

    nb_rng_seed(&rng, 12345);
    for (size_t i = 0; i < 8; i++)
        ck_assert_uint_eq(nb_rng_uint32(&rng), u32_seed12345[i]);
}
END_TEST

START_TEST(test_seed_zero_is_not_gsl)
{
    /* GSL's mt19937 turns seed 0 into 4357; NumPy does not. */
    nb_rng a, b;
    nb_rng_seed(&a, 0);
    nb_rng_seed(&b, 4357);
    ck_assert_uint_ne(nb_rng_uint32(&a), nb_rng_uint32(&b));
    nb_rng_seed(&a, 0);
    ck_assert_uint_eq(a.mt[0], 0u);
    ck_assert_uint_eq(a.mt[1], 1u);  /* 1812433253 * (0 ^ 0) + 1 */
}
END_TEST

START_TEST(test_unseeded_struct)
{
    /* A zero-filled struct must not produce zeros for ever (which would
     * make nb_rng_gauss loop): it behaves as seed 5489. */
    nb_rng rng;
    memset(&rng, 0, sizeof rng);
    ck_assert_uint_eq(nb_rng_uint32(&rng), 3499211612u);
    memset(&rng, 0, sizeof rng);
    double g = nb_rng_gauss(&rng);
    ck_assert(g == g && g != 0.0);
}
END_TEST

START_TEST(test_uniform_sequence)
{
    nb_rng rng;
    double got[10], last = 0.0;
    nb_rng_seed(&rng, 42);
    for (size_t i = 0; i < 10; i++)
        got[i] = nb_rng_uniform(&rng);
    expect_doubles("uniform seed 42 [0..9]", uniform_seed42_first, got, 10);
    for (size_t i = 10; i < 310; i++)
        (void)nb_rng_uniform(&rng);
    /* 312 uniforms use the first 624 words: 311 and later need a twist. */
    for (size_t i = 0; i < 4; i++)
        got[i] = nb_rng_uniform(&rng);
    expect_doubles("uniform seed 42 [310..313]", uniform_seed42_310_313, got, 4);
    for (size_t i = 314; i < 1000; i++)
        last = nb_rng_uniform(&rng);
    ck_assert_msg(last == 0.44600577295795574, "uniform[999] = %.17g", last);
}
END_TEST

START_TEST(test_uniform_range)
{
    nb_rng rng;
    double got[4];
    nb_rng_seed(&rng, 11);
    for (size_t i = 0; i < 4; i++)
        got[i] = nb_rng_uniform_range(&rng, -10.0, 10.0);
    expect_doubles("uniform(-10, 10) seed 11", uniform_range_seed11, got, 4);
}
END_TEST

START_TEST(test_gauss_sequence)
{
    nb_rng rng;
    double got[12];
    nb_rng_seed(&rng, 7);
    for (size_t i = 0; i < 12; i++)
        got[i] = nb_rng_gauss(&rng);
    expect_doubles("gauss seed 7", gauss_seed7, got, 12);
}
END_TEST

START_TEST(test_gauss_cache)
{
    /* The cached second value survives uniform draws (NumPy keeps it on
     * the state) and reseeding drops it. */
    nb_rng rng;
    double got[5];
    nb_rng_seed(&rng, 7);
    got[0] = nb_rng_gauss(&rng);
    got[1] = nb_rng_uniform(&rng);
    got[2] = nb_rng_gauss(&rng);
    got[3] = nb_rng_gauss(&rng);
    got[4] = nb_rng_uniform(&rng);
    expect_doubles("gauss/uniform mix seed 7", mixed_seed7, got, 5);

    nb_rng_seed(&rng, 7);
    (void)nb_rng_gauss(&rng);
    ck_assert(rng.has_gauss);
    nb_rng_seed(&rng, 7);
    ck_assert(!rng.has_gauss);
    ck_assert(nb_rng_gauss(&rng) == gauss_seed7[0]);
}
END_TEST

START_TEST(test_normal)
{
    nb_rng rng;
    double got[6];
    nb_rng_seed(&rng, 11);
    for (size_t i = 0; i < 6; i++)
        got[i] = nb_rng_normal(&rng, 2.5, 0.75);
    expect_doubles("normal(2.5, 0.75) seed 11", normal_seed11, got, 6);
}
END_TEST

START_TEST(test_interval)
{
    /* Successive randint(0, max + 1) calls; the last two use 64-bit draws
     * (high word first), which a 32-bit size_t cannot express. */
    nb_rng rng;
    nb_rng_seed(&rng, 5);
    for (size_t i = 0; i < 9; i++) {
        if (interval_max[i] > SIZE_MAX) {
            printf("SKIP: interval(%llu) needs a 64-bit size_t\n",
                   (unsigned long long)interval_max[i]);
            return;
        }
        size_t v = nb_rng_interval(&rng, (size_t)interval_max[i]);
        ck_assert_msg(v == interval_seed5[i], "interval(%llu) = %zu, NumPy %llu",
                      (unsigned long long)interval_max[i], v,
                      (unsigned long long)interval_seed5[i]);
    }
    /* max 0 draws nothing. */
    nb_rng a, b;
    nb_rng_seed(&a, 9);
    nb_rng_seed(&b, 9);
    ck_assert_uint_eq(nb_rng_interval(&a, 0), 0);
    ck_assert_uint_eq(nb_rng_uint32(&a), nb_rng_uint32(&b));
}
END_TEST

START_TEST(test_shuffle10)
{
    nb_rng rng;
    size_t a[10];
    for (size_t i = 0; i < 10; i++)
        a[i] = 100 + 7 * i;
    nb_rng_seed(&rng, 0);
    nb_rng_shuffle(&rng, a, 10);
    for (size_t i = 0; i < 10; i++)
        ck_assert_msg(a[i] == shuffle10_seed0[i], "a[%zu] = %zu, NumPy %zu", i,
                      a[i], shuffle10_seed0[i]);
    /* Same number of draws as NumPy: the stream continues identically. */
    ck_assert(nb_rng_uniform(&rng) == 0.43758721126269251);
}
END_TEST

START_TEST(test_shuffle1000)
{
    nb_rng rng;
    size_t *a = malloc(1000 * sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t i = 0; i < 1000; i++)
        a[i] = i;
    nb_rng_seed(&rng, 2024);
    nb_rng_shuffle(&rng, a, 1000);
    size_t mismatches = 0;
    for (size_t i = 0; i < 1000; i++)
        mismatches += a[i] != shuffle1000_seed2024[i];
    printf("shuffle of 1000, seed 2024: %zu mismatches\n", mismatches);
    ck_assert_uint_eq(mismatches, 0);
    ck_assert(nb_rng_uniform(&rng) == 0.074518463428832393);
    free(a);
}
END_TEST

START_TEST(test_shuffle_small)
{
    /* n = 0 and n = 1 draw nothing. */
    nb_rng a, b;
    size_t one = 42;
    nb_rng_seed(&a, 3);
    nb_rng_seed(&b, 3);
    nb_rng_shuffle(&a, NULL, 0);
    nb_rng_shuffle(&a, &one, 1);
    ck_assert_uint_eq(one, 42);
    ck_assert_uint_eq(nb_rng_uint32(&a), nb_rng_uint32(&b));
}
END_TEST

START_TEST(test_permutation)
{
    nb_rng rng;
    size_t p[12];
    nb_rng_seed(&rng, 3);
    nb_rng_permutation(&rng, p, 12);
    for (size_t i = 0; i < 12; i++)
        ck_assert_msg(p[i] == permutation12_seed3[i], "p[%zu] = %zu, NumPy %zu",
                      i, p[i], permutation12_seed3[i]);
}
END_TEST

START_TEST(test_copy_forks_stream)
{
    nb_rng a, b;
    nb_rng_seed(&a, 31);
    (void)nb_rng_gauss(&a);       /* leaves a cached Gaussian */
    b = a;
    ck_assert(nb_rng_gauss(&a) == nb_rng_gauss(&b));
    ck_assert(nb_rng_uniform(&a) == nb_rng_uniform(&b));
}
END_TEST

static Suite *rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("numpy");
    tcase_add_test(tc, test_check_values);
    tcase_add_test(tc, test_mt19937_reference);
    tcase_add_test(tc, test_seed_zero_is_not_gsl);
    tcase_add_test(tc, test_unseeded_struct);
    tcase_add_test(tc, test_uniform_sequence);
    tcase_add_test(tc, test_uniform_range);
    tcase_add_test(tc, test_gauss_sequence);
    tcase_add_test(tc, test_gauss_cache);
    tcase_add_test(tc, test_normal);
    tcase_add_test(tc, test_interval);
    tcase_add_test(tc, test_shuffle10);
    tcase_add_test(tc, test_shuffle1000);
    tcase_add_test(tc, test_shuffle_small);
    tcase_add_test(tc, test_permutation);
    tcase_add_test(tc, test_copy_forks_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rng_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
