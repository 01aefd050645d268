/* The work is done by the compiler: each include_<header>.c beside this
 * file includes one public header twice, alone, under -std=c11 -pedantic. */
#include <igtcloud/igtcloud.h>

int main(void)
{
    return igtcloud_version()[0] ? 0 : 1;
}
